"""The per-file analysis step, run in worker processes.

It must be importable and picklable on its own (the pool uses ``spawn``), never touch the
store, and turn every problem with a file into a one-line reason instead of an exception,
so one bad file cannot stop an index run.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tonearm.analyzers import TrackContext, get_analyzer
from tonearm.audio.decode import describe
from tonearm.audio.segments import load_for_analysis
from tonearm.errors import TonearmError
from tonearm.library.metadata import SidecarReader, read_tags, to_columns
from tonearm.store.identity import content_hash


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


@dataclass
class Result:
    path: str
    size: int = 0
    mtime_ns: int = 0
    content_hash: str | None = None
    content_unchanged: bool = False  # the file's bytes equal the indexed version
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


def _one_line(exc: BaseException) -> str:
    """The failure as the user reads it: a TonearmError's own words, else what went wrong in plain terms."""
    if isinstance(exc, TonearmError):
        return " ".join(str(exc).split())[:240]
    if isinstance(exc, OSError):
        return describe(exc)
    return f"analysis failed ({describe(exc)})"[:240]


def run_job(job: Job) -> Result:
    """Hash, decode once, run every requested analyzer, read tags."""
    t0 = time.perf_counter()
    res = Result(job.path)
    try:
        st = os.stat(job.path)
        res.size, res.mtime_ns = st.st_size, st.st_mtime_ns
        res.content_hash = content_hash(job.path)
        views = job.views
        if job.known_hash is not None and res.content_hash == job.known_hash:
            res.content_unchanged = True
            views = {v: n for v, n in views.items() if v not in job.fresh_views}
        analyzers = {view: get_analyzer(name) for view, name in views.items()}
        res.tags = read_tags(job.path)
        context = TrackContext(job.path)
        if any(a.reads_metadata for a in analyzers.values()):
            context.metadata = to_columns(res.tags, SidecarReader().read(job.path), {})[2]
            if res.content_unchanged:
                context.previous = dict(job.previous)
        if analyzers:
            sr = max(a.sample_rate for a in analyzers.values())
            audio = load_for_analysis(job.path, sr)
            res.duration = audio.info.duration
            res.sample_rate = audio.info.sample_rate
            res.channels = audio.info.channels
            res.analysed_seconds = audio.analysed_seconds
            for view, analyzer in analyzers.items():
                out = analyzer.run(audio, context)
                res.extras.update(out.fields)
                vec = np.asarray(out.vector, dtype=np.float32)
                if vec.shape != (analyzer.dim,) or not np.all(np.isfinite(vec)):
                    raise TonearmError(f"analyzer {analyzer.key} returned an invalid vector {vec.shape}")
                res.raw[view] = vec
    except MemoryError:
        res.error = "out of memory while analysing"
    except Exception as exc:
        res.error = _one_line(exc)
    res.elapsed = time.perf_counter() - t0
    return res
