"""librosa's disk-cached numba kernels: compiled by one process at a time, and repaired when damaged.

librosa compiles some of its kernels with ``numba.guvectorize(cache=True)`` the first time they run
and writes the machine code where numba keeps its cache (next to librosa's sources when that folder
can be written, else numba's per-user folder, or ``$NUMBA_CACHE_DIR``). Two processes compiling the
same kernel at once can leave cache files that disagree, and *every* later process that loads them
crashes (numba issue 10128; reproduced here: two processes compiling from an empty cache left a
cache that segfaulted in ``librosa.estimate_tuning`` in 1 of 9 tries). Every analysis would then fail
until the files are deleted.

So the first analysis of a process calls :func:`ensure_kernels`. Unless this environment's marker
says the kernels were checked, it takes a file lock *beside numba's cache of librosa* (shared by every
process that writes those files, whichever user or ``$TONEARM_CACHE`` it runs with), runs the
kernels in a child process (compiling any that are missing), and, if the child crashes, deletes
librosa's cached kernels and runs them again. Only then is the marker written; later processes skip
the step (loading from a complete cache is safe in parallel). An index run that loses a worker
calls :func:`forget_kernels`, so the next worker checks again: a cache damaged after the marker was
written (by another program compiling librosa's kernels) is repaired instead of crashing every file.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from tonearm.config import writable_cache_dir

log = logging.getLogger(__name__)

CHILD_TIMEOUT = 600.0  # seconds: a first compile takes ~20 s on a slow core
_LIBROSA_MODULES = ("librosa.core.pitch", "librosa.util.utils", "librosa.beat", "librosa.feature.spectral")
_CHILD = "from tonearm.analyzers.numba_cache import run_kernels; run_kernels()"


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


def _numba_cache_folder(source: Path) -> Path | None:
    """Where numba keeps the cached kernels of functions defined in ``source`` (its own locator rules)."""
    from numba.core import caching

    def probe() -> None:  # the locators read only the line number of the function they place
        return None

    for locator in caching.CacheImpl._locator_classes:
        found = locator.from_function(probe, str(source))
        if found is not None:
            return Path(found.get_cache_path())
    return None


def kernel_cache_folders() -> list[Path]:
    """numba's cache folders for librosa's modules that hold cached kernels (root, core, util, feature)."""
    folders: list[Path] = []
    for name in _LIBROSA_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            continue
        with contextlib.suppress(Exception):  # numba's internals moved, or nothing can be written
            folder = _numba_cache_folder(Path(spec.origin))
            if folder is not None and folder not in folders:
                folders.append(folder)
    return folders


def clear_kernel_cache() -> int:
    """Delete librosa's cached kernels (numba's ``.nbi`` index and ``.nbc`` code files); how many went."""
    removed = 0
    for folder in kernel_cache_folders():
        for path in [*folder.glob("*.nbi"), *folder.glob("*.nbc")]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
    return removed


def _lock_path() -> Path:
    """The lock every process compiling these kernels takes: beside numba's cache of librosa, so that
    processes of other users or other ``$TONEARM_CACHE`` folders sharing that cache wait for each other."""
    folders = kernel_cache_folders()
    return (folders[0] if folders else writable_cache_dir()) / "tonearm-kernels.lock"


@contextlib.contextmanager
def kernels_locked() -> Iterator[int | None]:
    """Hold the kernels' lock; yields its file descriptor (None off POSIX, where there is no lock).

    The lock is released when the block ends or when every process holding the descriptor has
    exited: a child given it (``check_kernels_in_child(hold=...)``) keeps it while it compiles, even
    if this process is killed meanwhile."""
    try:
        import fcntl
    except ImportError:
        yield None
        return
    path = _lock_path()
    try:
        lock = open(path, "a+b")  # noqa: SIM115 (closed below)
    except PermissionError:  # made by another user in a folder both can write: a read-only handle locks too
        lock = open(path, "rb")  # noqa: SIM115
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield lock.fileno()


def check_kernels_in_child(hold: int | None = None, timeout: float = CHILD_TIMEOUT) -> None:
    """Run the kernels in a child process; if it crashes, clear their cache and run them again.

    Why a child: loading a damaged cache kills the process that loads it (a segfault), which would
    be the analysing worker. ``hold``: the lock's descriptor, inherited by the child. Raises
    ``RuntimeError`` when the kernels fail with a fresh cache too."""

    def child() -> subprocess.CompletedProcess[bytes]:
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        return subprocess.run(
            [sys.executable, "-c", _CHILD],
            env=env,
            timeout=timeout,
            capture_output=True,
            check=False,
            pass_fds=() if hold is None else (hold,),
        )

    done = child()
    if done.returncode < 0:  # killed by a signal: a damaged cache
        removed = clear_kernel_cache()
        log.warning(
            "librosa's cached numba kernels crashed a process (signal %d): deleted %d files, compiling again",
            -done.returncode,
            removed,
        )
        done = child()
    if done.returncode != 0:
        said = (done.stderr.decode(errors="replace").strip().splitlines() or [""])[-1][:200]
        raise RuntimeError(f"librosa's kernels fail in a fresh process (exit status {done.returncode}) {said}".strip())


def _marker() -> Path:
    return writable_cache_dir() / f"numba-kernels-{environment_key()}.done"


def prepare_kernels(run: Callable[[], None] | None = None) -> bool:
    """Make sure librosa's cached kernels are compiled and loadable here; whether this call ran them.

    Cheap once done (one ``stat``). Never raises: a folder that cannot be written, or kernels that
    still fail, only mean each worker loads or compiles the kernels itself when it first needs them,
    and its analysis says what is wrong. ``run``: what to do under the lock (default: the check in a
    child process)."""
    try:
        marker = _marker()
    except OSError:
        return False
    if marker.exists():
        return False
    try:
        with kernels_locked() as held:
            if marker.exists():  # another process checked them while this one waited
                return False
            if run is None:
                check_kernels_in_child(hold=held)
            else:
                run()
            marker.touch()
            return True
    except Exception as exc:
        log.warning("could not prepare librosa's numba kernels: %s", exc)
        return False


def forget_kernels() -> None:
    """Drop this environment's marker, so the next process to analyse checks the kernels again (after
    a worker crashed: if their cache was damaged, that check repairs it)."""
    with contextlib.suppress(OSError):
        _marker().unlink(missing_ok=True)
    global _checked_here
    _checked_here = False


_checked_here = False


def ensure_kernels() -> None:
    """:func:`prepare_kernels` once per process (later calls cost nothing)."""
    global _checked_here
    if not _checked_here:
        prepare_kernels()
        _checked_here = True
