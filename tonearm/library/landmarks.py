"""Keeping the landmark postings in step with the rows: the pass after each index run.

The rows hold each track's peaks (``ana_landmarks``, committed with the row); the postings index
is derived from them. After an index run (and whenever it finds them out of step: a crash
between a row's commit and the pass, a library copied without its index), this pass compares
each row's peaks key with the key the index holds for it: new and changed tracks get their
postings, gone tracks lose theirs. Unchanged tracks are never touched, so the pass costs
nothing on a re-run. Work is done in batches of about ``BATCH_HASHES`` hashes, each published
atomically by the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tonearm.analyzers.landmarks import INDEX, hashes, unpack
from tonearm.store.base import Store
from tonearm.store.filters import IsNull
from tonearm.store.schema import LANDMARK_KEY

log = logging.getLogger(__name__)

BATCH_HASHES = 20_000_000  # ~240 MB of hashes and frames in memory per published batch
KEY = LANDMARK_KEY


@dataclass
class PostingsReport:
    added: int = 0
    removed: int = 0
    postings: int = 0


def sync_postings(store: Store, on_progress: Callable[[int, int], None] | None = None) -> PostingsReport:
    """Bring the postings index in line with the rows' peaks (see the module docstring)."""
    report = PostingsReport()
    if KEY not in store.columns():
        return report
    want = {r["id"]: r[KEY] for r in store.scan(IsNull(KEY, negate=True), columns=["id", KEY])}
    have = store.postings_tracks()
    stale = sorted(t for t, k in want.items() if have.get(t) != k)
    gone = sorted(t for t in have if t not in want)
    batch: dict[str, tuple[str, np.ndarray, np.ndarray]] = {}
    held = 0
    for i in range(0, len(stale), 100):
        for row in store.get(stale[i : i + 100], columns=["id", KEY, "ana_landmarks"]):
            t, f = unpack(row.get("ana_landmarks"))
            h, ht = hashes(t, f, INDEX.fanout)
            batch[row["id"]] = (row[KEY], h, ht)
            held += h.size
            report.postings += h.size
        if held >= BATCH_HASHES:
            store.update_postings(batch, gone)
            report.added += len(batch)
            report.removed += len(gone)
            batch, held, gone = {}, 0, []
        if on_progress:
            on_progress(min(i + 100, len(stale)), len(stale))
    if batch or gone:
        store.update_postings(batch, gone)
        report.added += len(batch)
        report.removed += len(gone)
    if report.added or report.removed:
        log.info("landmark postings: %d tracks added, %d removed", report.added, report.removed)
    return report
