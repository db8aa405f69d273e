"""librosa's disk-cached numba kernels, compiled by one process at a time.

librosa compiles some of its kernels with ``numba.guvectorize(cache=True)`` the first time they run
and writes the machine code next to its sources. Two processes compiling the same kernel at once
can leave cache files that disagree, and a later process that loads them crashes (numba issue
10128: a fresh install's first ``tonearm index -j 2``, whose two workers reach the same kernels
within a second; seen as a test worker's segfault in ``librosa.zero_crossings``). The index run's
workers therefore call :func:`prepare_kernels` when they start, and every analysis (a query's file
too, which may run beside an index run's workers) calls :func:`ensure_kernels` first: the first process
in an environment compiles the kernels under a file lock while the others wait, then leaves a marker so
that later processes skip the step (loading from a complete cache is safe in parallel).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tonearm.config import writable_cache_dir


def run_kernels() -> None:
    """Call each cached librosa kernel the analyzers reach once (compiling it if its cache is missing)."""
    import librosa

    y = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa's notes on short input
        librosa.zero_crossings(y)
        librosa.util.localmax(y)
        librosa.util.localmin(y)
        librosa.util.peak_pick(np.abs(y[:2000]), pre_max=3, post_max=3, pre_avg=3, post_avg=5, delta=0.5, wait=10)
        librosa.estimate_tuning(y=y, sr=22050)  # piptrack's parabolic interpolation (chroma, tonnetz)


def environment_key() -> str:
    """Names this installation of librosa and numba: a reinstall or an upgrade needs the kernels again."""
    spec = importlib.util.find_spec("librosa")
    origin = Path(spec.origin) if spec and spec.origin else None
    stamp = ""
    if origin is not None and origin.exists():
        st = origin.stat()
        stamp = f"{origin}:{st.st_ino}:{st.st_mtime_ns}"
    parts = [stamp, sys.version, os.environ.get("NUMBA_CACHE_DIR", "")]
    for dist in ("librosa", "numba"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            parts.append(f"{dist}=={importlib.metadata.version(dist)}")
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:16]


def prepare_kernels(run: Callable[[], None] = run_kernels) -> bool:
    """Make sure librosa's cached kernels are compiled in this environment; whether this call compiled them.

    Cheap once done (one ``stat``). Never raises: a folder that cannot be written only means each
    worker loads or compiles the kernels itself when it first needs them, as before."""
    try:
        folder = writable_cache_dir()
    except OSError:
        return False
    marker = folder / f"numba-kernels-{environment_key()}.done"
    if marker.exists():
        return False
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock to take
        return False
    try:
        with open(folder / "numba-kernels.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
            if marker.exists():  # another process compiled them while this one waited
                return False
            run()
            marker.touch()
            return True
    except Exception:  # a failed warm-up must not fail the worker; its analysis says what is wrong
        return False


_checked_here = False


def ensure_kernels() -> None:
    """:func:`prepare_kernels` once per process (later calls cost nothing)."""
    global _checked_here
    if not _checked_here:
        prepare_kernels()
        _checked_here = True
