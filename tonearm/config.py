"""Where the library and tonearm's caches live.

Resolution order (first wins): an explicit ``--library`` value, ``$TONEARM_LIBRARY``,
then ``$XDG_DATA_HOME/tonearm/library`` (``~/.local/share/tonearm/library``).
A value containing ``://`` is a store URL for a server backend; anything else is a folder.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_library() -> str:
    """The library location used when none is given on the command line."""
    env = os.environ.get("TONEARM_LIBRARY")
    if env:
        return env
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(data_home) / "tonearm" / "library")


def resolve_library(value: str | None) -> str:
    """Return the library location for an optional user-supplied value."""
    if value:
        return value if "://" in value else str(Path(value).expanduser().resolve())
    return default_library()


def cache_dir() -> Path:
    """Tonearm's cache folder for derived files ($TONEARM_CACHE, else the XDG cache folder)."""
    env = os.environ.get("TONEARM_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tonearm"
