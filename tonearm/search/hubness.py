"""Hubness correction (CSLS) for similarity lists, on request.

In high-dimensional audio spaces a few tracks ("hubs") sit close to everything and turn up in
most tracks' neighbour lists, while others ("anti-hubs") are nobody's neighbour. Cross-domain
similarity local scaling (CSLS; Conneau et al., 2018) discounts each candidate by how close it
is to its own neighbourhood: ``csls(q, y) = 2 cos(q, y) - r(q) - r(y)``, with ``r(y)`` the mean
cosine of ``y`` to its ``K`` nearest library tracks. ``r(q)`` is the same for every candidate of
one query, so ranking needs only ``r(y)``, which is computed at query time for the candidates
(one batched k-NN query for all of them: always current, nothing to keep in sync at index time). Reported scores
are ``cos(q, y) - (r(y) - mean r) / 2``: CSLS's order on the cosine's scale.

It is on by default only where ``tonearm eval`` measured a gain (``DEFAULT_VIEWS``): the melody
view is strongly hubbed (k-occurrence skewness about 3, one track in 7 nobody's neighbour) and
CSLS raises its versions MRR. The shipped sound view's skewness is already low, and there CSLS
trades better style and grouping precision and noisy-query recall for worse clean, pitch-shifted
and phone-quality queries, so it stays a choice (figures in docs/eval-small-report.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tonearm.store.base import Hit, Store, vector_column

K = 10
DEFAULT_VIEWS = frozenset({"melody"})


def neighbour_means(sim: np.ndarray, k: int = K) -> np.ndarray:
    """Mean of each row's ``k`` largest entries (exclude the diagonal first: set it to -inf)."""
    k = min(k, sim.shape[1] - 1)
    if k < 1:
        return np.zeros(sim.shape[0], np.float32)
    return np.partition(sim, -k, axis=1)[:, -k:].mean(axis=1).astype(np.float32)


def neighbourhoods(store: Store, view: str, hits: Sequence[Hit]) -> list[float]:
    """``r(y)`` per hit: mean cosine of its vector to its ``K`` nearest other tracks (whole library),
    found with one batched k-NN query for all hits."""
    col = vector_column(view)
    vectors = np.asarray([h.row[col] for h in hits], np.float32)
    out = []
    for hit, found in zip(hits, store.knn_batch(view, vectors, K + 1), strict=True):
        others = [f.score for f in found if f.row["id"] != hit.row["id"]][:K]
        out.append(float(np.mean(others)) if others else 0.0)
    return out


def rerank(store: Store, view: str, hits: Sequence[Hit]) -> list[Hit]:
    """Candidates (which must carry their ``vec_<view>``) re-scored by CSLS, best first."""
    if not hits:
        return []
    r = neighbourhoods(store, view, hits)
    mean = float(np.mean(r))
    rescored = [Hit(h.row, h.score - 0.5 * (ry - mean)) for h, ry in zip(hits, r, strict=True)]
    return sorted(rescored, key=lambda h: -h.score)
