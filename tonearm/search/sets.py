"""Tracks compared as sets of stretches: ``similar --match sets``.

A track vector is the mean of a whole track; a piece whose intro is a solo piano and whose body is
a full band averages into something that resembles neither. The sound view also keeps each
track's outputs over a few consecutive stretches (``Analyzer.segments_field``); here two tracks are
compared by their stretches, each normalised exactly as track vectors are (the library's own
statistics and discriminant projection), with the symmetrised Chamfer similarity: the mean, over
the stretches of one track, of their best match in the other, averaged both ways.

Search is two-stage: the view's ANN index proposes ``sets_pool`` candidates by track vector, and
only they are re-scored by their sets (``bench/bench_sets.py`` measures recall against exact set
matching over the whole library, and latency at 100k and 1M tracks). A track analysed before its
analyzer kept stretches counts as a set of one: its track vector.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tonearm.analyzers import DEFAULT_VIEWS, Analyzer, get_analyzer, stretches
from tonearm.analyzers.normalize import Standardizer
from tonearm.errors import TonearmError
from tonearm.store.base import Hit, Store, raw_column, vector_column
from tonearm.store.filters import InList

# Candidates proposed by track vector for each set query: SETS_POOL, or more in a larger library, where
# more tracks crowd between a track's vector neighbours and its set neighbours. bench/bench_sets.py
# (recall@10 against exact set matching): 100k tracks 0.96 with 200; 1M 0.88 with 200, 0.93 with 400,
# 0.95 with 800. So the pool grows like the square root of the library: 253 at 100k (0.976), 800 at 1M.
SETS_POOL = 200
SETS_POOL_PER_SQRT_ROW = 0.8
MAX_CANDIDATES = 5000  # a query re-ranks at most this many (its stretch vectors are read in one batch)
MATCHES = ("vector", "sets")


def sets_pool(rows: int) -> int:
    """Candidates a set query re-ranks in a library of ``rows`` tracks, unless the user says otherwise."""
    return min(MAX_CANDIDATES, max(SETS_POOL, round(SETS_POOL_PER_SQRT_ROW * math.sqrt(max(rows, 0)))))


def chamfer(query: np.ndarray, candidate: np.ndarray) -> float:
    """Symmetrised mean best-match cosine of two sets of unit vectors (rows)."""
    sims = query @ candidate.T
    return float(0.5 * (sims.max(axis=1).mean() + sims.max(axis=0).mean()))


def chamfer_many(query: np.ndarray, stretches: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``chamfer(query, set_i)`` for sets given back to back (``counts[i]`` rows each, all ≥ 1)."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sims = query @ stretches.T  # (query stretches, all stretches)
    query_side = np.maximum.reduceat(sims, starts, axis=1).mean(axis=0)
    their_side = np.add.reduceat(sims.max(axis=0), starts) / counts
    return 0.5 * (query_side + their_side)


def _analyzer(name: str) -> Analyzer | None:
    try:
        return get_analyzer(name) if name else None
    except TonearmError:  # not installed (any more)
        return None


class SetMatcher:
    """What a view needs to compare sets: its analyzer and the library's statistics in force."""

    def __init__(self, store: Store, view: str) -> None:
        saved = store.get_meta(f"normalizer:{view}")  # names the analyzer whose outputs it was fitted on
        if saved:
            name = str(saved.get("analyzer", "")).partition("@")[0]
        else:  # no statistics: the view's analyzer says which error applies
            name = (store.get_meta("views") or DEFAULT_VIEWS).get(view, "")
        analyzer = _analyzer(name)
        if analyzer is None or analyzer.segments_field is None:
            raise TonearmError(f"the {view!r} view keeps no stretches to match as sets (analyzer {name or 'none'})")
        if not saved:
            raise TonearmError(f"the {view!r} view has no statistics yet; finish an index run first")
        if analyzer.key != saved["analyzer"]:
            raise TonearmError(f"the {view!r} view was analysed by {saved['analyzer']}; finish an index run first")
        self.view, self.analyzer = view, analyzer
        self.field: str = analyzer.segments_field
        self.stored_field = stretches.set_field(view)
        self.has_stored = self.stored_field in store.columns()  # a library that never wrote them: derive all
        self.standardizer = Standardizer.from_json(saved)

    def sets(
        self, raws: np.ndarray, encoded: Sequence[str | None], vectors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Tracks as sets, derived from their raw outputs: stretch vectors back to back, and how many each has.

        A track without stretches (analysed before they were kept, or a damaged field) is the set
        of its track vector alone; one without a vector either has none (count 0)."""
        derived, counts = stretches.derive(self.analyzer, self.standardizer, raws, encoded, np.float32)
        blocks, at = [], 0
        for i, n in enumerate(counts):
            if n:
                blocks.append(derived[at : at + n])
                at += n
            elif np.all(np.isfinite(vectors[i])):
                blocks.append(vectors[i : i + 1])
                counts[i] = 1
        dim = self.standardizer.output_dim()
        return (np.concatenate(blocks).astype(np.float32) if blocks else np.zeros((0, dim), np.float32)), counts

    def query_set(self, row: Mapping[str, Any], raw: np.ndarray | None, vector: np.ndarray) -> np.ndarray:
        """One track (the query) as a set: its stored stretch vectors, else derived from ``row``'s fields."""
        stored = stretches.decode(row.get(self.stored_field), self.standardizer)
        if stored is not None:
            return stored
        if raw is None:
            return np.asarray(vector, np.float32)[None, :]
        vec = np.asarray(vector, np.float32)[None, :]
        return self.sets(np.asarray(raw, np.float32)[None, :], [row.get(self.field)], vec)[0]

    def columns(self) -> list[str]:
        """What the first stage should read with each candidate: its stored stretch vectors, if any.

        Read by the k-NN query itself, for the candidates it returns anyway: a second read by id
        cost more than the rest of the query together (a profile on ``bench/bench_sets.py``'s 1M
        library, 800 candidates: p50 58 ms against 29)."""
        return [self.stored_field] if self.has_stored else []

    def rerank(self, store: Store, query: np.ndarray, hits: Sequence[Hit]) -> list[Hit]:
        """Candidates re-scored by their set's Chamfer similarity to ``query``, best first.

        Stretch vectors come with the hits (``columns``); those missing from a hit are read in one
        batch by id, and those stored with other statistics (or none) are derived from their raw
        outputs, read in a second batch."""
        if not hits:
            return []
        sets: dict[str, np.ndarray] = {}
        present: set[str] = set()
        field = self.stored_field
        carried = [h.row for h in hits if self.has_stored and field in h.row]
        unread = tuple(h.row["id"] for h in hits if not (self.has_stored and field in h.row))
        if unread and self.has_stored:
            for batch in store.scan_batches(["id", field], InList("id", unread), len(unread) + 1):
                carried.extend({"id": i, field: t} for i, t in zip(batch["id"], batch[field], strict=True))
        elif unread:
            present.update(unread)
        decoded = stretches.decode_many([row[field] for row in carried], self.standardizer)
        for row, found in zip(carried, decoded, strict=True):
            present.add(row["id"])
            if found is not None:
                sets[row["id"]] = found
        stale = tuple(h.row["id"] for h in hits if h.row["id"] in present and h.row["id"] not in sets)
        if stale:
            sets.update(self._derived(store, stale))
        kept = [h for h in hits if h.row["id"] in sets]  # a row deleted meanwhile, or with no vector, drops out
        if not kept:
            return []
        blocks = [sets[h.row["id"]] for h in kept]
        scores = chamfer_many(query, np.concatenate(blocks), np.array([len(b) for b in blocks]))
        order = np.argsort(-scores, kind="stable")
        return [Hit(kept[i].row, float(scores[i])) for i in order]

    def _derived(self, store: Store, ids: tuple[str, ...]) -> dict[str, np.ndarray]:
        cols = ["id", vector_column(self.view), raw_column(self.view), self.field]
        out: dict[str, np.ndarray] = {}
        for batch in store.scan_batches(cols, InList("id", ids), batch_rows=len(ids) + 1):
            vecs, raws = np.asarray(batch[cols[1]], np.float32), np.asarray(batch[cols[2]], np.float32)
            found, counts = self.sets(raws, batch[cols[3]], vecs)
            at = 0
            for i, n in zip(batch["id"], counts, strict=True):
                if n:
                    out[i] = found[at : at + n]
                    at += n
        return out
