"""Duplicate recordings: the same audio in several files (re-encodes, other bitrates or formats).

A pass after each index run, incremental: only rows whose fingerprint is new are compared,
against candidates the fingerprint view's k-NN proposes (and files with the same bytes). A
candidate is accepted only when the raw Chromaprint words agree: bit error rate at most
``MAX_BIT_ERRORS`` at the best alignment within ±``MAX_OFFSET`` frames, over most of the
shorter file, with durations within ``DURATION_TOLERANCE``. Re-encodes measure 0.00-0.03;
different recordings (other renderings of the same tune included) 0.35-0.55 — the threshold
sits far from both, because merging two different recordings is the failure users cannot
forgive (their files vanish from every list).

Accepted pairs are kept in the library (``duplicate_edges``); groups are their connected
components, and every member of a group of two or more gets ``dup_group`` = the id of the
group's *keeper*: the best copy (lossless before lossy, then higher bitrate, then sample rate,
then path). Result lists collapse on that field (:mod:`tonearm.search.dedupe`).
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tonearm import failpoints
from tonearm.analyzers.chromaprint import decode_contour, decode_words, is_distinctive
from tonearm.store.base import Store, vector_column
from tonearm.store.filters import InList
from tonearm.store.schema import DUP_FIELD, FINGERPRINT_VIEW

log = logging.getLogger(__name__)

EDGES_META = "duplicate_edges"
MAX_BIT_ERRORS = 0.15
MAX_OFFSET = 4  # frames of ~0.12 s: encoder delay and seek jitter are far smaller
MIN_OVERLAP = 0.8
DURATION_TOLERANCE = (1.0, 0.01)  # seconds, fraction of the longer file: whichever is larger
CANDIDATES = 8
MIN_LOUDNESS_CORR = 0.9
MIN_DYNAMICS_DB = 0.5
LOCAL_FRAMES = 8  # ~1 s of Chromaprint words
MAX_LOCAL_BIT_ERRORS = 0.2  # 95th percentile of the ~1-s bit error rates
FLAT_MAX_BIT_ERRORS = 0.02  # audio too flat for the loudness witness must agree almost bit for bit
LOSSLESS = frozenset({".flac", ".wav", ".aif", ".aiff", ".alac", ".ape", ".wv", ".tta"})
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.uint8)
_ROW_COLUMNS = [
    "id", "path", "size", "duration", "sample_rate", "added_at", "content_hash", "ana_fingerprint", "ana_loudness",
]  # fmt: skip


@dataclass
class DuplicateReport:
    checked: int = 0
    pairs: int = 0
    groups: int = 0
    files_in_groups: int = 0
    changed_rows: int = 0
    candidate_pairs: int = 0


@dataclass(frozen=True)
class Match:
    same: bool
    bit_errors: float
    offset: int = 0
    reason: str = ""


def bit_error_rate(a: np.ndarray, b: np.ndarray, max_offset: int = MAX_OFFSET) -> tuple[float, int, float]:
    """Lowest fraction of differing bits over alignments of ``b`` against ``a``.

    Returns (rate, offset, overlap as a fraction of the shorter fingerprint).
    """
    best = (1.0, 0, 0.0)
    shorter = min(a.size, b.size)
    if shorter == 0:
        return best
    for off in range(-max_offset, max_offset + 1):
        x, y = a[max(0, off) :], b[max(0, -off) :]
        n = min(x.size, y.size)
        if n < 1:
            continue
        diff = np.bitwise_xor(x[:n], y[:n]).view(np.uint8)
        rate = float(_POPCOUNT[diff].sum()) / (32.0 * n)
        if rate < best[0]:
            best = (rate, off, n / shorter)
    return best


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> Match:
    """Decide whether two rows hold the same recording (see the module docstring for the rule)."""
    if a.get("content_hash") and a.get("content_hash") == b.get("content_hash"):
        return Match(True, 0.0, 0, "same bytes")
    da, db = a.get("duration") or 0.0, b.get("duration") or 0.0
    if abs(da - db) > max(DURATION_TOLERANCE[0], DURATION_TOLERANCE[1] * max(da, db)):
        return Match(False, 1.0, 0, "durations differ")
    fa, fb = decode_words(a.get("ana_fingerprint")), decode_words(b.get("ana_fingerprint"))
    if not (is_distinctive(fa) and is_distinctive(fb)):
        return Match(False, 1.0, 0, "no usable fingerprint")
    rate, offset, overlap = bit_error_rate(fa, fb)
    if overlap < MIN_OVERLAP:
        return Match(False, rate, offset, "too little overlap")
    if rate > MAX_BIT_ERRORS:
        return Match(False, rate, offset, "fingerprints differ")
    local = local_bit_errors(fa, fb, offset)
    if local > MAX_LOCAL_BIT_ERRORS:
        return Match(False, rate, offset, f"fingerprints differ in places ({local:.2f})")
    corr = loudness_agreement(decode_contour(a.get("ana_loudness")), decode_contour(b.get("ana_loudness")), offset)
    if corr is None:
        if rate <= FLAT_MAX_BIT_ERRORS:
            return Match(True, rate, offset, "fingerprints agree (loudness too flat to testify)")
        return Match(False, rate, offset, "loudness too flat to confirm")
    if corr < MIN_LOUDNESS_CORR:
        return Match(False, rate, offset, f"loudness contours differ (r={corr:.2f})")
    return Match(True, rate, offset, "fingerprints and loudness agree")


def local_bit_errors(a: np.ndarray, b: np.ndarray, offset: int) -> float:
    """95th percentile of the bit error rate over ~1-s stretches at ``offset``.

    A re-encode disagrees a little everywhere; another rendering of nearly the same score
    agrees almost everywhere and disagrees a lot where a note differs.
    """
    x, y = a[max(0, offset) :], b[max(0, -offset) :]
    n = min(x.size, y.size)
    per_frame = _POPCOUNT[np.bitwise_xor(x[:n], y[:n]).view(np.uint8)].reshape(n, 4).sum(axis=1) / 32.0
    if n < LOCAL_FRAMES:
        return float(per_frame.mean()) if n else 1.0
    stretches = np.convolve(per_frame, np.ones(LOCAL_FRAMES) / LOCAL_FRAMES, mode="valid")
    return float(np.percentile(stretches, 95))


def loudness_agreement(a: np.ndarray, b: np.ndarray, offset: int, spread: int = 2) -> float | None:
    """Best correlation of two loudness contours near ``offset``; None if either is too flat to tell."""
    best: float | None = None
    for off in range(offset - spread, offset + spread + 1):
        x, y = a[max(0, off) :], b[max(0, -off) :]
        n = min(x.size, y.size)
        if n < 10:
            continue
        x, y = x[:n], y[:n]
        if x.std() < MIN_DYNAMICS_DB or y.std() < MIN_DYNAMICS_DB:
            return None
        r = float(np.corrcoef(x, y)[0, 1])
        best = r if best is None else max(best, r)
    return best


def _quality(row: Mapping[str, Any]) -> tuple:
    """Sort key of a copy: best first (lossless, then bitrate, then sample rate, then path: deterministic)."""
    ext = os.path.splitext(row.get("path") or "")[1].lower()
    duration = row.get("duration") or 0.0
    bitrate = (row.get("size") or 0) * 8 / duration if duration > 0 else 0.0
    return (ext not in LOSSLESS, -round(bitrate, -3), -(row.get("sample_rate") or 0), row.get("path") or "", row["id"])


def _check_key(row: Mapping[str, Any]) -> str | None:
    return row.get("ana_fingerprint_key") or row.get("content_hash")


def _components(edges: list[tuple[str, str]]) -> list[set[str]]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        parent[find(a)] = find(b)
    groups: dict[str, set[str]] = defaultdict(set)
    for x in parent:
        groups[find(x)].add(x)
    return [g for g in groups.values() if len(g) > 1]


def update_duplicates(
    store: Store, on_progress: Callable[[str], None] | None = None, candidates: int = CANDIDATES
) -> DuplicateReport:
    """Compare rows with new fingerprints to their candidates; rewrite ``dup_group`` where it changed."""
    report = DuplicateReport()
    if FINGERPRINT_VIEW not in store.views():
        return report
    # dup_group is a core column; these come with the first analysed row, or here before it.
    store.ensure_fields({"ana_dup_key": "string", "ana_fingerprint": "string", "ana_fingerprint_key": "string"})
    state = {
        r["id"]: r for r in store.scan(columns=["id", "content_hash", "ana_fingerprint_key", "ana_dup_key", DUP_FIELD])
    }
    # A row is checked once per fingerprint (or, without a usable one, per content: same-bytes copies).
    todo = [i for i, r in state.items() if _check_key(r) != r.get("ana_dup_key")]
    edges = {
        (a, b): rate
        for a, b, rate in (store.get_meta(EDGES_META) or [])
        if a in state and b in state and a not in todo and b not in todo
    }
    col = vector_column(FINGERPRINT_VIEW)
    by_bytes: dict[str, list[str]] = defaultdict(list)
    for i, r in state.items():
        if r.get("content_hash"):
            by_bytes[r["content_hash"]].append(i)
    compared: set[tuple[str, str]] = set()
    for start in range(0, len(todo), 200):
        for row in store.get(todo[start : start + 200], columns=[*_ROW_COLUMNS, col]):
            track = row["id"]
            report.checked += 1
            found: dict[str, dict[str, Any]] = {}
            if row.get(col) is not None:
                for hit in store.knn(FINGERPRINT_VIEW, np.asarray(row[col]), candidates + 1, exclude_ids=[track],
                                     columns=_ROW_COLUMNS):  # fmt: skip
                    found[hit.row["id"]] = hit.row
            same_bytes = [i for i in by_bytes.get(row.get("content_hash") or "", []) if i != track and i not in found]
            for other in store.get(same_bytes, columns=_ROW_COLUMNS) if same_bytes else []:
                found[other["id"]] = other
            for other in found.values():
                pair = (min(track, other["id"]), max(track, other["id"]))
                if pair in compared:
                    continue
                compared.add(pair)
                report.candidate_pairs += 1
                match = compare(row, other)
                if match.same:
                    edges[pair] = round(match.bit_errors, 4)
            if on_progress:
                on_progress(row.get("path") or track)
    groups = _components(list(edges))
    wanted: dict[str, str | None] = {}
    for group in groups:
        members = store.get(sorted(group), columns=["id", "path", "size", "duration", "sample_rate", "added_at"])
        keeper = min(members, key=_quality)["id"]
        wanted.update({m: keeper for m in group})
    changed = [i for i, r in state.items() if r.get(DUP_FIELD) != wanted.get(i) or (i in todo)]
    # The edges first: they are what a row marked as checked (ana_dup_key) relies on. Killed after this,
    # the next pass finds the rows still to mark and rewrites them from these edges.
    store.set_meta(EDGES_META, [[a, b, rate] for (a, b), rate in sorted(edges.items())])
    for i in range(0, len(changed), 200):
        batch = store.get(changed[i : i + 200])
        for r in batch:
            r[DUP_FIELD] = wanted.get(r["id"])
            r["ana_dup_key"] = _check_key(r)
        store.upsert(batch)
        failpoints.hit("duplicates")
    report.changed_rows = len(changed)
    report.pairs, report.groups = len(edges), len(groups)
    report.files_in_groups = sum(len(g) for g in groups)
    return report


def duplicate_groups(store: Store) -> list[dict[str, Any]]:
    """Groups for ``tonearm duplicates``: the keeper first, each copy with its bit error rate to a member."""
    rates: dict[str, float] = {}
    for a, b, rate in store.get_meta(EDGES_META) or []:
        for x in (a, b):
            rates[x] = min(rates.get(x, 1.0), rate)
    cols = ["id", "path", "title", "artist", "duration", "size", "sample_rate", "added_at", DUP_FIELD]
    members: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in store.scan(InList(DUP_FIELD, ("",), negate=True), columns=cols):
        if r.get(DUP_FIELD):
            members[r[DUP_FIELD]].append(r)
    out = []
    for keeper, rows in sorted(members.items()):
        rows.sort(key=lambda r: (r["id"] != keeper, _quality(r)))
        files = []
        for r in rows:
            d = r.get("duration") or 0.0
            files.append({
                "id": r["id"], "path": r["path"], "title": r.get("title"), "artist": r.get("artist"),
                "duration": d, "kbps": round((r.get("size") or 0) * 8 / d / 1000) if d else None,
                "keeper": r["id"] == keeper, "bit_errors": None if r["id"] == keeper else rates.get(r["id"]),
            })  # fmt: skip
        out.append({"group": keeper, "files": files})
    return out
