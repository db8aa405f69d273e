"""Tracks compared as sets of stretches: ``similar --match sets``.

A track vector is the mean of a whole track; a piece whose intro is a solo piano and whose body is
a full band averages into something that resembles neither. The sound view also keeps each
track's outputs over a few consecutive stretches (``Analyzer.segments_field``); here two tracks are
compared by their stretches, each normalised exactly as track vectors are (the library's own
statistics and discriminant projection), with the symmetrised Chamfer similarity: the mean, over
the stretches of one track, of their best match in the other, averaged both ways.

Search is two-stage: the view's ANN index proposes ``SETS_POOL`` candidates by track vector, and
only they are re-scored by their sets (``bench/bench_sets.py`` measures recall against exact set
matching over the whole library, and latency at 100k and 1M tracks). A track analysed before its
analyzer kept stretches counts as a set of one: its track vector.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tonearm.analyzers import DEFAULT_VIEWS, Analyzer, get_analyzer
from tonearm.analyzers.normalize import Standardizer
from tonearm.errors import TonearmError
from tonearm.store.base import Hit, Store, raw_column, vector_column
from tonearm.store.filters import InList

# Candidates proposed by track vector for each set query (recall against exact set matching in the README).
SETS_POOL = 100
MATCHES = ("vector", "sets")


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
        name = str((saved or {}).get("analyzer", "")).partition("@")[0]
        if not saved:  # which analyzer the view has, to say what is missing
            name = (store.get_meta("views") or DEFAULT_VIEWS).get(view, "")
        analyzer = _analyzer(name)
        if analyzer is not None and analyzer.segments_field is not None and not saved:
            raise TonearmError(f"the {view!r} view has no statistics yet; finish an index run first")
        if analyzer is None or analyzer.segments_field is None or not saved:
            raise TonearmError(f"the {view!r} view keeps no stretches to match as sets (analyzer {name or 'none'})")
        if analyzer.key != saved["analyzer"]:
            raise TonearmError(f"the {view!r} view was analysed by {saved['analyzer']}; finish an index run first")
        self.view, self.analyzer = view, analyzer
        self.field: str = analyzer.segments_field
        self.standardizer = Standardizer.from_json(saved)

    def sets(
        self, raws: np.ndarray, encoded: Sequence[str | None], vectors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Tracks as sets: their normalised stretches back to back, and how many each has.

        A track without stretches (analysed before they were kept, or a damaged field) is the set
        of its track vector alone; one without a vector either has none (count 0)."""
        raw_stretches, counts = self.analyzer.segment_raws(raws, encoded)
        projected = self.standardizer.apply(raw_stretches, np.float32) if len(raw_stretches) else raw_stretches
        blocks, at = [], 0
        for i, n in enumerate(counts):
            if n:
                blocks.append(projected[at : at + n])
                at += n
            elif np.all(np.isfinite(vectors[i])):
                blocks.append(vectors[i : i + 1])
                counts[i] = 1
        dim = self.standardizer.output_dim()
        return (np.concatenate(blocks).astype(np.float32) if blocks else np.zeros((0, dim), np.float32)), counts

    def query_set(self, raw: np.ndarray | None, encoded: str | None, vector: np.ndarray) -> np.ndarray:
        """One track (the query) as a set."""
        if raw is None:
            return np.asarray(vector, np.float32)[None, :]
        out, _ = self.sets(np.asarray(raw, np.float32)[None, :], [encoded], np.asarray(vector, np.float32)[None, :])
        return out

    def rerank(self, store: Store, query: np.ndarray, hits: Sequence[Hit]) -> list[Hit]:
        """Candidates re-scored by their set's Chamfer similarity to ``query``, best first.

        Their stretches are read in one batch by id, as arrays (measured at 100k tracks: asking the
        k-NN query for these columns instead costs 10 ms more, in Python lists of raw numbers)."""
        if not hits:
            return []
        ids = [h.row["id"] for h in hits]
        cols = ["id", vector_column(self.view), raw_column(self.view), self.field]
        found: dict[str, tuple[np.ndarray, np.ndarray, str | None]] = {}
        for batch in store.scan_batches(cols, InList("id", tuple(ids)), batch_rows=len(ids) + 1):
            for j, i in enumerate(batch["id"]):
                found[i] = (batch[cols[1]][j], batch[cols[2]][j], batch[cols[3]][j])
        kept = [h for h in hits if h.row["id"] in found]  # a row deleted meanwhile drops out
        if not kept:
            return []
        vecs, raws, fields = (list(x) for x in zip(*(found[h.row["id"]] for h in kept), strict=True))
        stretches, counts = self.sets(np.asarray(raws, np.float32), fields, np.asarray(vecs, np.float32))
        has = counts > 0
        scores = np.full(len(kept), -np.inf)
        if has.any():
            scores[has] = chamfer_many(query, stretches, counts[has])
        order = np.argsort(-scores, kind="stable")
        return [Hit(kept[i].row, float(scores[i])) for i in order if has[i]]
