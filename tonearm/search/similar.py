"""``similar``: tracks that sound like a target (a track id, an indexed path, or any audio file).

The same function serves the CLI and (later) the HTTP API, so both rank identically. The
target itself and exact duplicates of it (same bytes) never appear in its results.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from tonearm.analyzers import DEFAULT_VIEWS, Analyzer, external, get_analyzer
from tonearm.analyzers.normalize import Standardizer, l2
from tonearm.audio.segments import load_for_analysis
from tonearm.errors import NotFoundError, TonearmError
from tonearm.search import dedupe
from tonearm.search.results import RESULT_FIELDS
from tonearm.search.sets import MATCHES, MAX_CANDIDATES, SETS_POOL, SetMatcher, sets_pool
from tonearm.store.base import Store, raw_column, vector_column
from tonearm.store.filters import Filter
from tonearm.store.identity import content_hash

_TRACK_ID = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class SimilarQuery:
    """A resolved query: the vector to search with and what to leave out of the results."""

    vector: np.ndarray
    view: str
    info: dict[str, Any]
    exclude_ids: tuple[str, ...] = ()
    exclude_hashes: tuple[str, ...] = ()
    # The query's own recording (row with id/dup_group/content_hash): its copies are left out too.
    itself: dict[str, Any] | None = None
    # The query's raw output and analyzer fields (its stretches, for ``match="sets"``); None if not kept.
    raw: np.ndarray | None = None
    fields: dict[str, Any] | None = None


def analyze_file_for_view(store: Store, path: str, view: str) -> np.ndarray:
    """Analyse an outside file exactly as the library's ``view`` was analysed (not stored)."""
    return analyze_file(store, path, view)[0]


def analyze_file(store: Store, path: str, view: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """An outside file's search vector for ``view``, with its raw output and the analyzer's fields."""
    name = (store.get_meta("views") or DEFAULT_VIEWS).get(view)
    if name is None:
        raise TonearmError(f"the library has no {view!r} view")
    analyzer = get_analyzer(name)
    if isinstance(analyzer, external.ExternalModelAnalyzer):
        external.use_library_paths(store)  # the weights this library was indexed with
    out = analyzer.run(load_for_analysis(path, analyzer.sample_rate))
    return _search_vector(store, analyzer, view, out.vector), np.asarray(out.vector, np.float32), out.fields


def _search_vector(store: Store, analyzer: Analyzer, view: str, raw: np.ndarray) -> np.ndarray:
    if analyzer.normalization == "none":
        if not np.any(raw):
            raise TonearmError(f"nothing to compare in the {view!r} view of this file (e.g. no melody found)")
        return l2(raw)
    saved = store.get_meta(f"normalizer:{view}")
    if not saved or saved.get("analyzer") != analyzer.key:
        raise TonearmError(f"the {view!r} view has no statistics yet; finish an index run first")
    return Standardizer.from_json(saved).apply(raw)


def find_track(store: Store, ref: str, columns: list[str] | None = None) -> dict[str, Any] | None:
    """The row a reference names: a track id (16 hex digits) or an indexed path; None if neither.

    ``columns`` narrows an id lookup; a path lookup returns the whole row.
    """
    if _TRACK_ID.match(ref):
        rows = store.get([ref], columns=columns)
        if rows:
            return rows[0]
    if not ref or "\0" in ref:
        return None
    try:
        path = os.path.realpath(os.path.expanduser(ref))
    except (OSError, ValueError):
        return None
    return store.find_by_path(path)


IDENTIFIED_CONFIDENCE = 0.5


def identified(store: Store, path: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(row, {id, offset, confidence}) when ``path`` is identified as a library recording with confidence."""
    from tonearm.errors import DecodeError
    from tonearm.search.identify import identify

    try:  # identify checks the library has landmark postings before it decodes anything
        out = identify(store, path, k=1)
    except (DecodeError, TonearmError):
        return None
    if not out["results"] or out["results"][0]["confidence"] < IDENTIFIED_CONFIDENCE:
        return None
    top = out["results"][0]
    rows = store.get([top["id"]], columns=[*RESULT_FIELDS, "content_hash"])
    if not rows:
        return None
    return rows[0], {"id": top["id"], "offset": top["offset"], "confidence": top["confidence"]}


def resolve_target(store: Store, target: str, view: str = "sound", identify: bool = True) -> SimilarQuery:
    """Turn a track id, an indexed path or an audio file into a query vector.

    A file that is an excerpt of a library recording (identified by its landmarks) stands for
    that recording, which is then left out of the results; ``identify=False`` skips that (the
    evaluation scores the view's own ranking of excerpts).
    """
    col = vector_column(view)
    path = os.path.realpath(os.path.expanduser(target))
    row = find_track(store, target) if _TRACK_ID.match(target) or os.path.isfile(path) else None
    if row is not None:
        vec = row.get(col)
        if vec is None:
            raise TonearmError(f"track {row['id']} has no {view!r} vector yet (index run unfinished?)")
        info = {k: row.get(k) for k in RESULT_FIELDS}
        info.update(target=target, kind="track")
        hashes = (row["content_hash"],) if row.get("content_hash") else ()
        raw = row.get(raw_column(view))
        return SimilarQuery(np.asarray(vec, np.float32), view, info, (row["id"],), hashes, row,
                            None if raw is None else np.asarray(raw, np.float32), row)  # fmt: skip
    if os.path.isfile(path):
        vec, raw, fields = analyze_file(store, path, view)
        info = {"target": target, "kind": "file", "path": path}
        digest = content_hash(path)
        known = identified(store, path) if identify else None
        if known is not None:  # a clip of a library recording: that recording is the query, not a result
            row, found = known
            info["identified"] = found
            return SimilarQuery(vec, view, info, (row["id"],), (digest,), row, raw, fields)
        return SimilarQuery(vec, view, info, (), (digest,), {"content_hash": digest}, raw, fields)
    raise NotFoundError(f"{target!r} is neither a track id, an indexed path, nor an audio file")


def similar(
    store: Store,
    target: str,
    k: int = 10,
    where: str | None = None,
    min_score: float | None = None,
    view: str = "sound",
    hubness: bool | None = None,
    match: str = "vector",
    candidates: int | None = None,
) -> dict[str, Any]:
    """Run a similarity query; returns the documented JSON shape ``{"query": ..., "results": [...]}``.

    ``hubness`` re-ranks a wider candidate pool with CSLS (:mod:`tonearm.search.hubness`); None
    means the view's default (on where ``tonearm eval`` measured a gain: the melody view).
    ``match``: ``"vector"`` compares track vectors; ``"sets"`` compares the tracks' stretches
    (:mod:`tonearm.search.sets`; the sound view only), re-ranking ``candidates`` proposed by track
    vector (default ``sets_pool`` of the library's size; more finds more of the exact set-matching top k,
    slower: README).
    """
    if k < 1:
        raise TonearmError("-k must be at least 1")
    if match not in MATCHES:
        raise TonearmError(f"unknown match {match!r}; expected one of: {', '.join(MATCHES)}")
    if match == "sets" and hubness:
        raise TonearmError("--hubness re-ranks track vectors; it does not combine with --match sets")
    if candidates is not None and (match != "sets" or not 1 <= candidates <= MAX_CANDIDATES):
        raise TonearmError(f"--candidates (1 to {MAX_CANDIDATES}) sets how many tracks --match sets re-ranks")
    flt = store.compile_where(where)
    if hubness is None:
        from tonearm.search.hubness import DEFAULT_VIEWS

        hubness = view in DEFAULT_VIEWS and match == "vector"
    matcher = SetMatcher(store, view) if match == "sets" else None  # fails before any analysis
    query = resolve_target(store, target, view)
    pool = candidates or (sets_pool(store.size_estimate()) if matcher else SETS_POOL)
    return rank(store, query, k, flt, min_score, hubness, where, matcher, pool)


def rank(
    store: Store,
    query: SimilarQuery,
    k: int,
    flt: Filter | None = None,
    min_score: float | None = None,
    hubness: bool = False,
    where: str | None = None,
    sets: SetMatcher | None = None,
    candidates: int = SETS_POOL,
) -> dict[str, Any]:
    """The result list for a resolved query (``similar`` without the target lookup or analysis).

    ``sets``: re-rank ``candidates`` tracks by their stretches (the query must carry its raw
    output and fields) instead of returning the track vectors' order."""
    view = query.view
    query_set = _query_set(sets, query) if sets is not None else None
    if sets is not None:
        pool, columns = max(candidates, dedupe.overfetch(k)), [*RESULT_FIELDS, *sets.columns()]
        hubness = False
    elif hubness:
        pool, columns = dedupe.overfetch(max(3 * k, 30)), [*RESULT_FIELDS, vector_column(view)]
    else:
        pool, columns = dedupe.overfetch(k), list(RESULT_FIELDS)
    hits = store.knn(
        view,
        query.vector,
        pool,
        where=flt,
        exclude_ids=query.exclude_ids,
        exclude_hashes=query.exclude_hashes,
        columns=columns,
    )
    if sets is not None and query_set is not None:  # (query_set is set exactly when sets is)
        hits = sets.rerank(store, query_set, hits)
    if hubness:
        from tonearm.search.hubness import rerank

        hits = rerank(store, view, hits)
    gate = dedupe.Collapser([query.itself] if query.itself else [])
    results = []
    for hit in hits:
        if len(results) == k:
            break
        if not gate.admit(hit.row):
            continue
        if min_score is not None and hit.score < min_score:
            continue
        item = {key: hit.row.get(key) for key in RESULT_FIELDS}
        item["score"] = round(hit.score, 6)
        item["rank"] = len(results) + 1
        results.append(item)
    info = dict(query.info, view=view, k=k, where=where, min_score=min_score, hubness=hubness)
    info["match"] = "sets" if sets is not None else "vector"
    if sets is not None:
        info["candidates"] = max(candidates, dedupe.overfetch(k))
    return {"query": info, "results": results}


def _query_set(sets: SetMatcher, query: SimilarQuery) -> np.ndarray:
    """The query as a set: its stretches, else its vector alone (a track analysed before stretches were kept)."""
    return sets.query_set(query.fields or {}, query.raw, query.vector)
