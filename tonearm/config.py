"""Where the library and tonearm's caches live, and how a tonearm process sets up its memory.

Resolution order (first wins): an explicit ``--library`` value, ``$TONEARM_LIBRARY``,
then ``$XDG_DATA_HOME/tonearm/library`` (``~/.local/share/tonearm/library``).
A value containing ``://`` is a store URL for a server backend; anything else is a folder.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

MALLOC_ARENAS = 2  # glibc malloc arenas per process ($MALLOC_ARENA_MAX wins when set: ``limit_malloc_arenas``)
_M_ARENA_MAX = -8  # mallopt parameter number in glibc's malloc.h


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


def writable_cache_dir() -> Path:
    """:func:`cache_dir`, or a per-user folder under the temporary directory when that cannot be written
    (a read-only home, a service account without one). Raises ``OSError`` when neither can.

    The temporary folder is shared: one there that another user made first is not used."""
    fallback = Path(os.environ.get("TMPDIR", "/tmp")) / f"tonearm-{os.getuid()}"
    for base in (cache_dir(), fallback):
        try:
            base.mkdir(mode=0o700, parents=True, exist_ok=True)
            if base == fallback and base.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        if os.access(base, os.W_OK):
            return base
    raise OSError("no writable cache folder")


def limit_malloc_arenas() -> bool:
    """Cap glibc's malloc arenas for this process and the processes it starts; whether the cap took effect here.

    The engines under tonearm (LanceDB's Rust runtime, onnxruntime, CTranslate2) allocate from many
    threads, and glibc gives threads their own arenas (up to 8 per core), whose freed pages a long
    process rarely returns. Measured over an index run of 400 two-second files (one worker, main
    process RSS from 20% of the run to its end, LanceDB metadata cache at 16 MiB): +137 MiB with
    glibc's default, +73 MiB with two arenas, in about the same time. Analysis workers inherit the
    setting through ``$MALLOC_ARENA_MAX``, which glibc reads when a process starts; this process, whose
    own arenas exist already, gets it through ``mallopt``. A value the user set is kept."""
    os.environ.setdefault("MALLOC_ARENA_MAX", str(MALLOC_ARENAS))
    if not sys.platform.startswith("linux"):
        return False
    try:
        arenas = int(os.environ["MALLOC_ARENA_MAX"])
        return bool(ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError, ValueError):  # not glibc (musl, macOS), or a value that is not a number
        return False


def repair_tmpdir() -> str | None:
    """When ``$TMPDIR`` names no writable folder, point it at one that is; the warning to print, else None.

    Why: Python's ``tempfile`` quietly skips a bad ``$TMPDIR``, but LanceDB (Rust) writes its merge
    spill files there and fails deep inside a commit. Processes this one starts (analysis workers, a
    background server) inherit the repaired value."""
    wanted = os.environ.get("TMPDIR")
    if not wanted or (os.path.isdir(wanted) and os.access(wanted, os.W_OK | os.X_OK)):
        return None
    for folder in ("/tmp", "/var/tmp"):
        if os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK):
            os.environ["TMPDIR"] = folder
            return f"$TMPDIR={wanted} is not a writable folder: using {folder}"
    return f"$TMPDIR={wanted} is not a writable folder, nor are /tmp and /var/tmp: writes may fail"
