"""``tonearm check``: is this library whole? And, with ``repair``, make it so without re-analysis.

Why a checker when every write is atomic: atomic writes keep each commit whole, but a library
is several things kept in step by separate commits (a row, then its postings; rows, then the
normalisation statistics; rows, then the duplicate groups). A crash between two of them, a copy
made by hand, or a bug leaves them out of step. The index run heals most of it on its next pass;
this module says what is out of step in plain words, and repairs what the stored data can
repair: vectors re-derived from their raw analyser output, postings rebuilt from the rows'
peaks, duplicate groups recomputed, stale failure records and leftover files removed. What only
a new analysis can fix (a row marked analysed without its vector) is marked stale, so the next
``tonearm index`` redoes exactly that.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tonearm.analyzers import get_analyzer
from tonearm.analyzers.normalize import Standardizer, l2
from tonearm.library.scan import track_id
from tonearm.store.base import Store, raw_column, vector_column
from tonearm.store.filters import And, IsNull
from tonearm.store.schema import DUP_FIELD, LANDMARK_KEY

REINDEX = "run `tonearm index` on the library's folders to re-analyse them"


@dataclass
class Finding:
    """One thing out of step: what, how many tracks, whether ``repair`` fixed it, what else can."""

    check: str
    problem: str
    tracks: int = 0
    fixed: bool = False
    hint: str = ""


@dataclass
class CheckReport:
    location: str
    format: str
    tracks: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Nothing left to fix (problems found and repaired count as fixed)."""
        return all(f.fixed for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "clean": self.clean}


def check_library(store: Store, repair: bool = False, files: bool = True) -> CheckReport:
    """Check rows, vectors, postings, duplicates, failures and storage; with ``repair``, fix what data allows.

    A repair holds the library's write lock (no index run may be writing meanwhile); a check alone
    reads only, and is safe while a server or an index run uses the library.
    """
    if not repair:
        return _check(store, repair=False, files=files)
    with store.write_lock():
        return _check(store, repair=True, files=files)


def _check(store: Store, repair: bool, files: bool) -> CheckReport:
    info = store.info()
    report = CheckReport(store.location, str(info.get("schema_version")), int(info.get("tracks") or 0))
    found = report.findings
    for what, fixed in store.storage_check(repair):  # first: a reset postings index is rebuilt below
        found.append(Finding("storage", what, fixed=fixed))
    columns = store.columns()
    wanted = ["id", "path", "size", "mtime_ns", "views_json"] + [c for c in (DUP_FIELD, LANDMARK_KEY) if c in columns]
    rows = list(store.scan(columns=wanted))
    found += _duplicate_ids(store, rows, repair)
    found += _duplicate_paths(store, rows, repair)
    found += _vectors(store, rows, repair)
    found += _postings(store, rows, repair)
    found += _duplicate_groups(store, rows, repair)
    found += _failures(store, rows, repair)
    if files:
        found += _missing_files(rows)
    if repair and any(f.fixed for f in found):
        store.optimize()
    return report


# ---- rows --------------------------------------------------------------------------------------
def _duplicate_ids(store: Store, rows: list[dict], repair: bool) -> list[Finding]:
    twice = [i for i, n in Counter(r["id"] for r in rows).items() if n > 1]
    if not twice:
        return []
    if repair:
        store.keep_one_copy(twice, _newest)
    return [Finding("rows", "several rows share one track id (the newest copy is kept)", len(twice), repair)]


def _newest(copies: list[dict]) -> dict:
    """The copy with the latest analysis (then the latest file time) of rows that share an id."""
    return max(copies, key=lambda r: (r.get("analyzed_at") or 0.0, r.get("mtime_ns") or 0))


def _duplicate_paths(store: Store, rows: list[dict], repair: bool) -> list[Finding]:
    by_path: dict[str, list[str]] = {}
    for r in rows:
        by_path.setdefault(r["path"], []).append(r["id"])
    extra = []
    for path, ids in by_path.items():
        if len(set(ids)) > 1:
            own = track_id(path)
            keep = own if own in ids else sorted(ids)[0]
            extra += [i for i in set(ids) if i != keep]
    if not extra:
        return []
    if repair:
        store.delete(sorted(extra))
    return [Finding("rows", "one file is indexed under several ids (the extra rows are removed)", len(extra), repair)]


# ---- vectors -----------------------------------------------------------------------------------
def _vectors(store: Store, rows: list[dict], repair: bool) -> list[Finding]:
    out: list[Finding] = []
    configured = store.get_meta("views") or {}
    claimed: dict[str, set[str]] = {}
    for r in rows:
        for view in json.loads(r.get("views_json") or "{}"):
            claimed.setdefault(view, set()).add(r["id"])
    for view in sorted(store.views()):
        no_raw = {r["id"] for r in store.scan(IsNull(raw_column(view)), columns=["id"])}
        lost = sorted(claimed.get(view, set()) & no_raw)
        if lost:
            if repair:
                _mark_stale(store, lost, view)
            what = f"tracks marked analysed for view {view!r} have no vector (marked for re-analysis)"
            out.append(Finding("vectors", what, len(lost), repair, REINDEX))
        pending = [r["id"] for r in store.scan(And((IsNull(raw_column(view), negate=True),
                                                    IsNull(vector_column(view)))), columns=["id"])]  # fmt: skip
        if pending:
            out += _unnormalised(store, view, configured.get(view), pending, repair)
    return out


def _mark_stale(store: Store, ids: Sequence[str], view: str) -> None:
    """Forget that ``view`` was computed for these rows: the next index run analyses exactly that."""
    for i in range(0, len(ids), 500):
        rows = store.get(list(ids[i : i + 500]))
        for r in rows:
            views = json.loads(r.get("views_json") or "{}")
            views.pop(view, None)
            r["views_json"] = json.dumps(views, sort_keys=True)
        store.upsert(rows)


def _unnormalised(store: Store, view: str, analyzer_name: str | None, ids: list[str], repair: bool) -> list[Finding]:
    """Rows with raw output but no search vector: derivable again, unless the output is empty by design."""
    try:
        analyzer = get_analyzer(analyzer_name) if analyzer_name else None
    except Exception:  # an analyzer this install lacks: its rows cannot be judged here
        analyzer = None
    if analyzer is None:
        return []
    std = None
    if analyzer.normalization == "standardize":
        saved = store.get_meta(f"normalizer:{view}")
        std = Standardizer.from_json(saved) if saved else None
        if std is None or std.analyzer != analyzer.key:
            what = f"tracks of view {view!r} wait for normalisation statistics"
            return [Finding("vectors", what, len(ids), False, "run `tonearm index` to fit them")]
        if std.output_dim() != store.views().get(view):  # killed between a rewrite and its statistics
            what = f"tracks of view {view!r} wait for a refit (the statistics do not fit the search column)"
            return [Finding("vectors", what, len(ids), False, "run `tonearm index` to refit them")]
    fixable: list[dict] = []
    for i in range(0, len(ids), 500):
        for r in store.get(ids[i : i + 500], columns=["id", raw_column(view)]):
            raw = np.asarray(r[raw_column(view)], np.float32)
            if std is None and not np.any(raw):
                continue  # an empty profile (no melody found) is meant to be unsearchable
            fixable.append(r)
    if not fixable:
        return []
    if repair:
        for i in range(0, len(fixable), 500):
            chunk = fixable[i : i + 500]
            raw = np.array([r[raw_column(view)] for r in chunk], np.float32)
            store.set_vectors(view, [r["id"] for r in chunk], std.apply(raw) if std is not None else l2(raw))
    what = f"tracks of view {view!r} have raw analysis but no search vector (derived again from it)"
    return [Finding("vectors", what, len(fixable), repair)]


# ---- what is derived from rows ---------------------------------------------------------------
def _postings(store: Store, rows: list[dict], repair: bool) -> list[Finding]:
    if LANDMARK_KEY not in store.columns():
        return []
    want = {r["id"]: r[LANDMARK_KEY] for r in rows if r.get(LANDMARK_KEY)}
    have = store.postings_tracks()
    missing = sum(1 for t, k in want.items() if have.get(t) != k)
    orphans = sum(1 for t in have if t not in want)
    if not missing and not orphans:
        return []
    if repair:
        from tonearm.library.landmarks import sync_postings

        sync_postings(store)
    out = []
    if missing:
        out.append(Finding("postings", "tracks lack their landmark postings, or hold stale ones (rebuilt from "
                           "their peaks)", missing, repair))  # fmt: skip
    if orphans:
        out.append(Finding("postings", "landmark postings belong to no track (removed)", orphans, repair))
    return out


def _duplicate_groups(store: Store, rows: list[dict], repair: bool) -> list[Finding]:
    ids = {r["id"] for r in rows}
    dangling = [r["id"] for r in rows if r.get(DUP_FIELD) and r[DUP_FIELD] not in ids]
    if not dangling:
        return []
    if repair:
        from tonearm.library.duplicates import update_duplicates

        fixed = store.get(dangling)
        for r in fixed:
            r[DUP_FIELD] = None
            r["ana_dup_key"] = None  # compared again by the pass below
        store.upsert(fixed)
        update_duplicates(store)
    return [Finding("duplicates", "tracks name a duplicate group whose kept copy is gone (regrouped)",
                    len(dangling), repair)]  # fmt: skip


def _failures(store: Store, rows: list[dict], repair: bool) -> list[Finding]:
    # A failure of the very version that is indexed is stale (a failure of a newer version, with the old
    # analysis kept, is not: the file changed and cannot be read now).
    indexed = {(r["path"], r.get("size"), r.get("mtime_ns")) for r in rows}
    stale = sorted(f["path"] for f in store.failures() if (f["path"], f.get("size"), f.get("mtime_ns")) in indexed)
    if not stale:
        return []
    if repair:
        store.clear_failures(stale)
    return [Finding("failures", "files recorded as failed are indexed (records removed)", len(stale), repair)]


def _missing_files(rows: list[dict]) -> list[Finding]:
    gone = sum(1 for r in rows if not os.path.exists(r["path"]))
    if not gone:
        return []
    hint = "`tonearm index` on their folder removes them; --keep-missing keeps them (a drive that is not mounted)"
    return [Finding("files", "indexed files are gone from disk", gone, False, hint)]
