"""The per-file analysis step, run in worker processes.

It must be importable and picklable on its own (the pool uses ``spawn``), never touch the
store, and turn every problem with a file into a one-line reason instead of an exception,
so one bad file cannot stop an index run.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tonearm.analyzers import TrackContext, get_analyzer
from tonearm.analyzers.numba_cache import ensure_kernels
from tonearm.audio.decode import describe
from tonearm.audio.segments import load_for_analysis
from tonearm.errors import TonearmError
from tonearm.library.metadata import SidecarReader, read_tags, to_columns
from tonearm.store.identity import content_hash

DEFAULT_FILE_TIMEOUT = 60.0
IMPORT_GRACE = 0.05  # s: how long a time limit waits for an import it interrupted to finish


@dataclass(frozen=True)
class Job:
    """Work for one file: which views to (re)compute; the hash it had, if it was indexed before."""

    path: str
    views: dict[str, str]  # view -> analyzer name, every view the library is configured with
    known_hash: str | None = None
    # Views already stored for ``known_hash``: skipped when the bytes turn out unchanged.
    fresh_views: frozenset[str] = frozenset()
    # Analyzer-owned fields of the stored row, reusable when the bytes are unchanged (a transcript).
    previous: dict[str, Any] = field(default_factory=dict)
    # The stored digest of the decoded audio (``DecodedAudio.digest``): when new bytes decode to it (only
    # the tags changed), the views in ``fresh_views`` that do not read metadata are not computed again.
    known_audio_hash: str | None = None


@dataclass
class Result:
    path: str
    size: int = 0
    mtime_ns: int = 0
    content_hash: str | None = None
    content_unchanged: bool = False  # the file's bytes equal the indexed version
    audio_hash: str | None = None  # digest of the decoded audio (None when nothing was decoded)
    audio_unchanged: bool = False  # new bytes, same audio: only the tags changed
    duration: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, np.ndarray] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)  # analyzers' extra row fields
    analysed_seconds: float = 0.0
    elapsed: float = 0.0
    error: str | None = None


def quiet_native_stderr() -> None:
    """Silence C-level decoder chatter (mpg123, FFmpeg) that would tear the progress bar.

    Problems with a file still reach the user: they come back as the job's one-line error.
    Set TONEARM_DEBUG_WORKERS=1 to keep the workers' stderr.
    """
    if os.environ.get("TONEARM_DEBUG_WORKERS"):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def die_with_parent() -> None:
    """Make this worker die when the index process does (Linux), so a killed run leaves no orphans.

    Why: pool workers share their job queue's pipe with each other, so the death of the index process
    (SIGKILL, the OOM killer) never reaches them as end-of-file; without this they would wait forever,
    holding memory and the files of the run's output pipes.
    """
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the wish was made
        os._exit(1)


def start_worker() -> None:
    """Initializer of an analysis worker process."""
    die_with_parent()
    quiet_native_stderr()
    ensure_kernels()  # the first workers of a fresh install must not compile librosa's kernels together


def _one_line(exc: BaseException) -> str:
    """The failure as the user reads it: a TonearmError's own words, else what went wrong in plain terms."""
    if isinstance(exc, TonearmError):
        return " ".join(str(exc).split())[:240]
    if isinstance(exc, OSError):
        return describe(exc)
    return f"analysis failed ({describe(exc)})"[:240]


class TimeLimit(BaseException):  # not an Exception: no library's broad `except Exception` swallows it
    """The file's analysis ran past its time limit (see ``FileClock``)."""


def file_timeout_base() -> float:
    """The per-file time limit's base in seconds (``$TONEARM_FILE_TIMEOUT``; 0: no limit)."""
    return float(os.environ.get("TONEARM_FILE_TIMEOUT", DEFAULT_FILE_TIMEOUT))


class FileClock:
    """A per-file time limit, so one file that makes a decoder or analyzer crawl cannot stall a run.

    The limit grows with the work the file honestly needs: ``base`` seconds (``$TONEARM_FILE_TIMEOUT``,
    default 60; 0 turns it off) times (1 + MB of file / 50 + seconds of audio analysed / 120), so a
    three-hour recording gets hours, a ten-second clip a minute. Python code is interrupted by SIGALRM
    (the file fails with a reason; an import under way is let finish first, see ``_alarm``); code stuck
    in a native library does not return to Python, so a watchdog thread kills the worker process a grace
    period later, and the engine then blames the file it was running (see ``LocalEngine``).
    """

    def __init__(self, size: int) -> None:
        self.base = file_timeout_base()
        self.size_mb = size / 1e6
        self.start = time.monotonic()
        self.armed = self.base > 0 and threading.current_thread() is threading.main_thread()
        self._watchdog: threading.Timer | None = None
        self.limit = 0.0

    def __enter__(self) -> FileClock:
        if self.armed:
            signal.signal(signal.SIGALRM, self._alarm)
            self.extend(0.0)
        return self

    def extend(self, audio_seconds: float) -> None:
        """Set the limit for a file whose analysis covers ``audio_seconds`` of audio."""
        if not self.armed:
            return
        self.limit = self.base * (1.0 + self.size_mb / 50.0 + audio_seconds / 120.0)
        left = max(0.01, self.start + self.limit - time.monotonic())
        signal.setitimer(signal.ITIMER_REAL, left)
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._watchdog = threading.Timer(left + max(10.0, self.base), _kill_self)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _alarm(self, signum: int, frame: Any) -> None:
        if _inside_import(frame):
            # An exception thrown into an import leaves a half-imported package behind (its submodules
            # gone from sys.modules, the parent's attributes not): every later file in this worker would
            # then fail with "module 'scipy' has no attribute '_lib'". Imports end; ask again shortly.
            signal.setitimer(signal.ITIMER_REAL, IMPORT_GRACE)
            return
        raise TimeLimit(f"took longer than {self.limit:.0f} s to analyse (the per-file time limit)")

    def __exit__(self, *exc: object) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            if self._watchdog is not None:
                self._watchdog.cancel()


def _inside_import(frame: Any) -> bool:
    """Whether the interrupted code is running the import machinery (a module's body counts)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib._bootstrap"):
            return True
        frame = frame.f_back
    return False


def _kill_self() -> None:  # pragma: no cover - runs only when native code hangs past the grace period
    os.kill(os.getpid(), signal.SIGKILL)


def run_job(job: Job) -> Result:
    """Hash, decode once, run every requested analyzer, read tags (within the file's time limit)."""
    t0 = time.perf_counter()
    res = Result(job.path)
    try:
        st = os.stat(job.path)
        res.size, res.mtime_ns = st.st_size, st.st_mtime_ns
        with FileClock(st.st_size) as clock:
            _analyse(job, res, clock)
    except TimeLimit as exc:
        res.error, res.raw = str(exc), {}
    except MemoryError:
        res.error = "out of memory while analysing"
    except Exception as exc:
        res.error = _one_line(exc)
    res.elapsed = time.perf_counter() - t0
    return res


def _analyse(job: Job, res: Result, clock: FileClock) -> None:
    """Hash, read tags, decode once, run the analyzers: filling ``res`` as it goes."""
    res.content_hash = content_hash(job.path)
    configured = {view: get_analyzer(name) for view, name in job.views.items()}
    analyzers = configured
    if job.known_hash is not None and res.content_hash == job.known_hash:
        res.content_unchanged = True
        analyzers = {v: a for v, a in configured.items() if v not in job.fresh_views}
    res.tags = read_tags(job.path)
    context = TrackContext(job.path)
    if any(a.reads_metadata for a in analyzers.values()):
        context.metadata = to_columns(res.tags, SidecarReader().read(job.path), {})[2]
        if res.content_unchanged:
            context.previous = dict(job.previous)
    if analyzers:
        # Decoded at the rate the library's full set of views needs, even when only some are redone:
        # a view resampled from another base rate is not the same numbers (a melody re-analysed
        # alone from a 22.05 kHz decode could differ from the one a 44.1 kHz decode gave).
        sr = max(a.sample_rate for a in configured.values())
        audio = load_for_analysis(job.path, sr)
        res.duration = audio.info.duration
        res.sample_rate = audio.info.sample_rate
        res.channels = audio.info.channels
        res.analysed_seconds = audio.analysed_seconds
        clock.extend(audio.analysed_seconds)
        res.audio_hash = audio.digest()
        if not res.content_unchanged and job.known_audio_hash and res.audio_hash == job.known_audio_hash:
            res.audio_unchanged = True  # retagged: keep the views computed from the audio alone
            # ... and redo those that read tags (not those that read only the path: landmarks)
            reads_tags = {v for v, a in configured.items() if a.reads_metadata and a.metadata_keys != frozenset()}
            analyzers = {v: a for v, a in configured.items() if v not in job.fresh_views or v in reads_tags}
            context.previous = dict(job.previous)  # the audio's transcript still holds
        for view, analyzer in analyzers.items():
            out = analyzer.run(audio, context)
            res.extras.update(out.fields)
            vec = np.asarray(out.vector, dtype=np.float32)
            if vec.shape != (analyzer.dim,) or not np.all(np.isfinite(vec)):
                raise TonearmError(f"analyzer {analyzer.key} returned an invalid vector {vec.shape}")
            res.raw[view] = vec
