"""The benchmark scripts name only what tonearm has: a bench is run rarely, so a renamed function would otherwise
break it unnoticed until someone needs its figures (``bench_identify`` once imported a helper that had moved)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _tonearm_imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every ``from tonearm... import name`` in a script, at any depth (benches import lazily)."""
    tree = ast.parse(path.read_text())
    return [(node.module, alias.name) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tonearm")
            for alias in node.names]  # fmt: skip


@pytest.mark.parametrize("script", sorted(BENCH.glob("*.py")), ids=lambda p: p.name)
def test_bench_script_imports_resolve(script):
    missing = []
    for module, name in _tonearm_imports(script):
        mod = importlib.import_module(module)
        if not hasattr(mod, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{module}.{name}")
    assert not missing, f"{script.name} imports what tonearm no longer has: {missing}"
