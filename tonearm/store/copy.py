"""``tonearm store copy SRC DST``: move a library between backends (LanceDB <-> PostgreSQL), resumably.

Rows are copied in id order, in batches; after each batch the destination records how far it
got (``copy_progress``), so an interrupted copy continues where it stopped. Views, columns
(``ana_*`` analyzer fields included), library settings (normaliser statistics, views, feeds,
history...), listener state (stars, ratings, plays, playlists) and failure records come
along. At the end both sides are counted and hashed: the
checksum covers every column of every row in id order, vectors as float32 bytes, so a copy that
lost or changed anything is reported as such, never as a success.

The landmark postings are derived data: the rows carry each track's peaks (``ana_landmarks``,
covered by the checksum) and the digest they hash to (``ana_landmarks_key``). The caller passes
the pass that derives postings from rows (``derive_postings``); the copy then holds the
destination's postings to those digests, track by track, and compares both sides' postings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tonearm import failpoints
from tonearm.errors import TonearmError, storage_fault
from tonearm.store.base import Store
from tonearm.store.filters import IsNull
from tonearm.store.schema import LANDMARK_KEY

BATCH = 500
PROGRESS_META = "copy_progress"


@dataclass
class CopyReport:
    rows: int = 0
    copied: int = 0
    resumed_after: str | None = None
    source_count: int = 0
    destination_count: int = 0
    source_checksum: str = ""
    destination_checksum: str = ""
    postings_tracks: int | None = None  # tracks with postings in the destination (None: not checked)
    source_postings_checksum: str = ""
    destination_postings_checksum: str = ""
    postings_match_rows: bool = True  # every destination row with peaks has postings made from exactly them

    @property
    def verified(self) -> bool:
        rows = self.source_count == self.destination_count and self.source_checksum == self.destination_checksum
        return rows and self.postings_match_rows


def _canonical(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind.startswith("vector("):
        return hashlib.blake2b(np.asarray(value, dtype="<f4").tobytes(), digest_size=16).hexdigest()
    if kind == "number":
        return float(value)  # int64 vs double columns hash alike
    return value


def checksum(store: Store, columns: dict[str, str] | None = None) -> tuple[int, str]:
    """(row count, digest of every column of every row in id order)."""
    cols = columns or store.columns()
    names = sorted(cols)
    ids = sorted(r["id"] for r in store.scan(columns=["id"]))
    h = hashlib.blake2b(digest_size=20)
    for i in range(0, len(ids), BATCH):
        rows = {r["id"]: r for r in store.get(ids[i : i + BATCH], columns=names)}
        for track in ids[i : i + BATCH]:
            row = rows[track]
            canon = {n: _canonical(row.get(n), cols[n]) for n in names}
            h.update(json.dumps(canon, sort_keys=True, default=str).encode())
    return len(ids), h.hexdigest()


def postings_checksum(store: Store) -> tuple[dict[str, str], str]:
    """(track -> peaks key of its postings, digest of that map)."""
    have = store.postings_tracks()
    return have, hashlib.blake2b(json.dumps(sorted(have.items())).encode(), digest_size=20).hexdigest()


def copy_library(
    src: Store,
    dst: Store,
    on_progress: Callable[[int, int], None] | None = None,
    derive_postings: Callable[[Store], object] | None = None,
) -> CopyReport:
    """Copy every row, view, column, setting and failure record from ``src`` to ``dst``; derive its postings."""
    if src.location == dst.location:
        raise TonearmError("source and destination are the same library")
    report = CopyReport()
    try:
        _copy(src, dst, report, on_progress, derive_postings)
    except Exception as exc:
        fault = storage_fault(exc, dst.location)
        if fault is None:
            raise
        raise type(fault)(
            f"{fault}: {report.copied} of {report.rows} tracks copied and kept; run the same command again to resume"
        ) from None
    return report


def _copy(
    src: Store,
    dst: Store,
    report: CopyReport,
    on_progress: Callable[[int, int], None] | None,
    derive_postings: Callable[[Store], object] | None,
) -> None:
    cols = src.columns()
    with dst.write_lock():
        raw_dims = src.raw_dims()
        for view, dim in src.views().items():  # a search column may be shorter than its raw one
            dst.ensure_view(view, raw_dims.get(view, dim), dim)
        dst.ensure_fields({n: k for n, k in cols.items() if not k.startswith("vector(") and n not in dst.columns()})  # type: ignore[misc]
        progress = dst.get_meta(PROGRESS_META) or {}
        last = progress.get("last_id") if progress.get("source") == src.location else None
        ids = sorted(r["id"] for r in src.scan(columns=["id"]))
        report.rows = len(ids)
        todo = [i for i in ids if last is None or i > last]
        report.resumed_after = last
        for i in range(0, len(todo), BATCH):
            batch = todo[i : i + BATCH]
            dst.upsert(src.get(batch))
            dst.set_meta(PROGRESS_META, {"source": src.location, "last_id": batch[-1]})
            failpoints.hit("copy")
            report.copied += len(batch)
            if on_progress:
                on_progress(report.rows - len(todo) + report.copied, report.rows)
        for key in src.meta_keys():
            if key != PROGRESS_META:
                dst.set_meta(key, src.get_meta(key))
        dst.record_failures(src.failures())
        for kind in src.state_kinds():  # stars, ratings, plays, playlists
            dst.put_state(kind, src.state(kind))
        # Rows the destination holds that the source does not (an earlier, different library) are removed.
        extra = sorted({r["id"] for r in dst.scan(columns=["id"])} - set(ids))
        dst.delete(extra)
        dst.optimize()
        if derive_postings is not None:
            derive_postings(dst)
    report.source_count, report.source_checksum = checksum(src, cols)
    report.destination_count, report.destination_checksum = checksum(dst, cols)
    if derive_postings is not None and LANDMARK_KEY in cols:
        _, report.source_postings_checksum = postings_checksum(src)
        have, report.destination_postings_checksum = postings_checksum(dst)
        rows = dst.scan(IsNull(LANDMARK_KEY, negate=True), columns=["id", LANDMARK_KEY])
        want = {r["id"]: r[LANDMARK_KEY] for r in rows}
        report.postings_tracks = len(have)
        report.postings_match_rows = have == want
    if report.verified:
        dst.set_meta(PROGRESS_META, {"source": src.location, "last_id": None, "verified": True})
