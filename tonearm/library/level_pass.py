"""Every track's loudness measured in one pass (``tonearm levels``), so that players get a ReplayGain for all.

Subsonic players level playback from the ``replayGain`` a server reports, and most libraries were
never tagged with it. The web player measures a track when it first plays it
(:mod:`tonearm.library.levels`); this pass does the same for every track that has neither
ReplayGain tags (gain and peak) nor a measurement of its current bytes, in worker processes, and
keeps each result with the library as it comes (25 at a time), so an interrupted pass resumes
where it stopped and a second pass measures only what is new. Once a library has had a pass,
every index run ends with one, so tracks added later get their levels too. About a second per 4-minute
stereo track per core: a 20,000-track library takes a few hours on two cores, once.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing as mp
import threading
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from tonearm.audio.decode import describe
from tonearm.audio.loudness import file_loudness
from tonearm.errors import TonearmError
from tonearm.library.levels import LEVELS_KIND, is_current, level_entry
from tonearm.library.replaygain import REFERENCE_LUFS, TRACK_GAIN, TRACK_PEAK
from tonearm.store.base import Store

BATCH = 25  # measurements kept per write: little lost to a kill, few small writes
# Set by the first pass: from then on every index run measures the tracks it adds (indexer.py).
LEVELS_META = "levels_kept"


class LevelProgress(Protocol):
    def start(self, total: int) -> None: ...
    def advance(self, path: str, status: str) -> None: ...


@dataclass
class LevelsReport:
    """What a levels pass did."""

    tracks: int = 0
    measured: int = 0
    tagged: int = 0  # their ReplayGain tags say it already
    known: int = 0  # measured before, same bytes
    failed: list[tuple[str, str]] = field(default_factory=list)
    elapsed: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "tracks": self.tracks, "measured": self.measured, "tagged": self.tagged, "known": self.known,
            "failed": [{"path": p, "reason": r} for p, r in self.failed], "elapsed": round(self.elapsed, 2),
        }  # fmt: skip


def _measure(path: str) -> tuple[float | None, float]:
    return file_loudness(path)


def measure_library(store: Store, workers: int = 1, progress: LevelProgress | None = None) -> LevelsReport:
    """Measure every track that has no ReplayGain tags and no current measurement; keep the results."""
    started = time.monotonic()
    if not store.get_meta(LEVELS_META):
        store.set_meta(LEVELS_META, True)
    tagged, known, todo = _classify(store)
    report = LevelsReport(tracks=tagged + known + len(todo), tagged=tagged, known=known)
    if progress is not None:
        progress.start(len(todo))
    batch: dict[str, dict[str, Any]] = {}

    def keep(row: dict[str, Any], lufs: float | None, peak: float) -> None:
        batch[row["id"]] = level_entry(row.get("content_hash"), lufs, peak)
        report.measured += 1
        if len(batch) >= BATCH or report.measured == 1:  # the first at once: a read-only library says so now
            store.put_state(LEVELS_KIND, dict(batch))
            batch.clear()

    try:
        for row, result in _results(todo, workers):
            if isinstance(result, BaseException):
                report.failed.append((row["path"], describe(result)))
                status = "failed"
            else:
                keep(row, *result)
                status = "measured"
            if progress is not None:
                progress.advance(row["path"], status)
    finally:
        if batch:
            with contextlib.suppress(TonearmError, OSError):  # the disk failed as well: these are measured again
                store.put_state(LEVELS_KIND, batch)
        report.elapsed = time.monotonic() - started
    return report


def _classify(store: Store) -> tuple[int, int, list[dict[str, Any]]]:
    """(tracks with ReplayGain tags, tracks measured for their bytes, the rows of those with no level)."""
    tagged_cols = [c for c in (TRACK_GAIN, TRACK_PEAK) if c in store.fields()]
    kept = store.state(LEVELS_KIND)
    tagged = known = 0
    todo = []
    for r in store.scan(columns=["id", "path", "content_hash", *tagged_cols]):
        if r.get(TRACK_GAIN) is not None and r.get(TRACK_PEAK) is not None:
            tagged += 1
        elif is_current(kept.get(r["id"]), r.get("content_hash")):
            known += 1
        else:
            todo.append(r)
    return tagged, known, todo


def level_coverage(store: Store) -> dict[str, int]:
    """How many tracks players get a ReplayGain for, and from what (``tonearm stats``)."""
    tagged, known, todo = _classify(store)
    return {"from_tags": tagged, "measured": known, "without": len(todo)}


def _results(rows: list[dict[str, Any]], workers: int) -> Iterable[tuple[dict[str, Any], Any]]:
    """(row, (lufs, peak) or the exception) for each row, in the order they finish."""
    if workers <= 1 or len(rows) <= 1:
        for row in rows:
            try:
                yield row, _measure(row["path"])
            except (TonearmError, OSError) as exc:
                yield row, exc
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
    try:
        pending: dict[Future, dict[str, Any]] = {}
        queue = iter(rows)
        for row in queue:  # a few files ahead of each worker, not the whole library at once
            pending[pool.submit(_measure, row["path"])] = row
            if len(pending) >= 4 * workers:
                break
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                row = pending.pop(fut)
                try:
                    yield row, fut.result()
                except (TonearmError, OSError) as exc:
                    yield row, exc
                nxt = next(queue, None)
                if nxt is not None:
                    pending[pool.submit(_measure, nxt["path"])] = nxt
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


# ---- what players are told ----------------------------------------------------------------------
_CACHE: dict[str, tuple[float, dict[str, dict[str, Any]]]] = {}
_LOCK = threading.Lock()
CACHE_SECONDS = 30.0  # a measurement reaches players within this; reading 20,000 of them costs ~80 ms


def measured_levels(store: Store) -> dict[str, dict[str, Any]]:
    """Every kept measurement by track id, re-read at most every :data:`CACHE_SECONDS`."""
    now = time.monotonic()
    with _LOCK:
        hit = _CACHE.get(store.location)
        if hit and now - hit[0] < CACHE_SECONDS:
            return hit[1]
    levels = store.state(LEVELS_KIND)
    with _LOCK:
        _CACHE[store.location] = (now, levels)
    return levels


def forget_cached_levels() -> None:
    with _LOCK:
        _CACHE.clear()


def album_loudness(parts: list[tuple[float, float]]) -> float | None:
    """An album's loudness from its tracks' (LUFS, seconds): their power averaged over time. BS.1770 gates
    the album's blocks together; from the tracks' figures this is the duration-weighted energy mean."""
    total = sum(d for _, d in parts)
    if not parts or total <= 0:
        return None
    return 10 * math.log10(sum(d * 10 ** (lufs / 10) for lufs, d in parts) / total)


def gain_for(lufs: float) -> float:
    """The ReplayGain 2.0 gain (dB) of a track or album measured at ``lufs``."""
    return round(REFERENCE_LUFS - lufs, 2)
