"""Defer LanceDB's REST client, which a local library never calls, until something asks for it.

``import lancedb`` imports ``lance_namespace``, which imports the generated OpenAPI client package
``lance_namespace_urllib3_client``; that package's ``__init__`` builds every REST endpoint class
(hundreds of pydantic-validated methods). Measured here: 0.8 s of a 1.6 s ``import lancedb``, paid by
every ``tonearm`` command that opens a library and by every analysis worker. tonearm opens folders
only. With ``defer`` the package is registered without running its ``__init__``: the ``models``
submodules lancedb imports still load as usual, and the package's own names (``ApiClient``, the
endpoint classes) load on first use, so a remote namespace works as before, only later.
"""

from __future__ import annotations

import importlib.util
import sys

PACKAGE = "lance_namespace_urllib3_client"


def defer() -> None:
    """Register the REST client package so that its ``__init__`` runs on first attribute use (no-op when it is
    already imported or not installed)."""
    if PACKAGE in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    module = importlib.util.module_from_spec(spec)

    def load(name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        module.__dict__.pop("__getattr__", None)
        spec.loader.exec_module(module)
        return getattr(module, name)

    module.__getattr__ = load  # type: ignore[method-assign]  # PEP 562: only names not yet defined
    sys.modules[PACKAGE] = module
