"""Library-wide statistics of a standardised view, fitted and applied in bounded memory.

A standardised view's search vectors depend on statistics of the whole library (see
``tonearm.analyzers.normalize``). When the library has drifted, every track's vector is
derived again from its raw output. Both passes stream the library in column batches and
write back only the vector column, so a refit of a million tracks needs one batch in memory
(not every row as Python objects) and rewrites one column (not every row).

Crash safety: the vectors are written first and the statistics last. Killed in between, the
stored statistics still call for a refit, and the next run rewrites every vector with one fit.

A fit with a discriminant projection makes search vectors shorter than the raw output (its few
projected numbers): the rewrite then changes the search column's dimension in the same pass. A
search column whose length disagrees with the statistics in force (a library of format 3 kept
its projections padded with zeros; a process killed between the two writes) is rewritten too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import numpy as np

from tonearm import failpoints
from tonearm.analyzers import Analyzer, stretches
from tonearm.analyzers.normalize import REFIT_GROWTH, Discriminant, Moments, Standardizer, method_for
from tonearm.store.base import Store, raw_column, vector_column
from tonearm.store.filters import And, IsNull

log = logging.getLogger(__name__)

BATCH_ROWS = 2048


def _owned(views_json: Sequence[str | None], view: str, key: str) -> np.ndarray:
    """Which rows of a batch were analysed by this analyzer version (others wait for re-analysis)."""
    return np.array([json.loads(v or "{}").get(view) == key for v in views_json], dtype=bool)


def refit_view(
    store: Store,
    view: str,
    key: str,
    weights: np.ndarray | None,
    current: Standardizer | None,
    batch_rows: int = BATCH_ROWS,
    discriminant: Discriminant | None = None,
    growth: float = REFIT_GROWTH,
    stretches_of: Analyzer | None = None,
) -> Standardizer | None:
    """Refit ``view``'s statistics if the library drifted (by more than ``growth``), and fill in
    vectors still missing.

    ``discriminant``: the analyzer's projection recipe, if it has one and the library uses it (a
    library switching it on or off, or growing past its minimum size, is refitted).
    ``stretches_of``: the view's analyzer when it keeps stretches: their stored vectors
    (``analyzers.stretches``) are derived again with the track vectors, in the same pass.
    Returns the statistics now in force (``current`` when nothing needed fitting).
    """
    raw, vec = raw_column(view), vector_column(view)
    has_raw = IsNull(raw, negate=True)
    count = store.count(has_raw)
    if count == 0:
        return current
    refit = current is None or current.needs_refit(key, count, method_for(discriminant, count), growth)
    reshape = not refit and current is not None and current.output_dim() != store.views().get(view)
    missing = And((has_raw, IsNull(vec)))
    if not refit and not reshape and store.count(missing) == 0:
        return current
    std = _fit(store, view, key, weights, batch_rows, discriminant) if refit else current
    if std is None:
        return current

    def derive(batch: dict) -> tuple[np.ndarray, np.ndarray, dict[str, list[str | None]]]:
        keep = _owned(batch["views_json"], view, key) & ~np.isnan(batch[raw][:, 0])
        failpoints.hit("refit")
        if stretches_of is None:
            return keep, std.apply(batch[raw][keep]), {}
        encoded = [batch[stretches_of.segments_field][i] for i in np.flatnonzero(keep)]
        vectors, counts = stretches.derive(stretches_of, std, batch[raw][keep], encoded)
        return (
            keep,
            std.apply(batch[raw][keep]),
            {stretches.set_field(view): stretches.encode_many(std, vectors, counts)},
        )

    columns = ["id", raw, "views_json"]
    if stretches_of is not None and stretches_of.segments_field:
        columns.append(stretches_of.segments_field)
    if refit or reshape:  # every owned vector changes: one pass over the library
        written = store.rewrite_vectors(view, derive, columns, batch_rows, dim=std.output_dim())
        if refit:
            store.set_meta(f"normalizer:{view}", std.to_json())  # last: see the module docstring
    else:  # a few rows committed before the statistics existed
        written = 0
        for batch in store.scan_batches(columns, missing, batch_rows):
            keep, vectors, fields = derive(batch)
            store.set_vectors(view, [i for i, k in zip(batch["id"], keep, strict=True) if k], vectors, fields)
            written += int(keep.sum())
    log.info("normalised view %s over %d tracks (refit=%s, reshape=%s)", view, written, refit, reshape)
    return std


def _fit(
    store: Store,
    view: str,
    key: str,
    weights: np.ndarray | None,
    batch_rows: int,
    discriminant: Discriminant | None,
) -> Standardizer | None:
    raw = raw_column(view)
    moments = Moments(covariance=discriminant is not None)
    for batch in store.scan_batches([raw, "views_json"], IsNull(raw, negate=True), batch_rows):
        keep = _owned(batch["views_json"], view, key)
        if keep.any():
            moments.add(batch[raw][keep])
    return moments.standardizer(key, weights, discriminant) if moments.n else None
