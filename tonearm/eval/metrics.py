"""Retrieval and transcription metrics, written out plainly so they can be checked by hand.

Conventions: ``ranked`` is a list of item ids, best first; ``relevant`` is the set of ids
that count as hits for the query. Ranks are 1-based.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def precision_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Fraction of the first ``k`` results that are relevant (divides by k, even if fewer came back)."""
    if k <= 0:
        raise ValueError("k must be positive")
    return sum(1 for r in ranked[:k] if r in relevant) / k


def recall_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Fraction of the relevant items found in the first ``k`` results."""
    if not relevant:
        return 0.0
    return sum(1 for r in ranked[:k] if r in relevant) / len(relevant)


def hit_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """1 if any relevant item is in the first ``k`` results, else 0 (top-k hit rate per query)."""
    return float(any(r in relevant for r in ranked[:k]))


def reciprocal_rank(ranked: Sequence[str], relevant: set[str]) -> float:
    """1 / rank of the first relevant result; 0 when none is returned."""
    for i, r in enumerate(ranked, start=1):
        if r in relevant:
            return 1.0 / i
    return 0.0


def average_precision(ranked: Sequence[str], relevant: set[str]) -> float:
    """Mean of precision@rank at each relevant result's rank, over all relevant items."""
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for i, r in enumerate(ranked, start=1):
        if r in relevant:
            hits += 1
            total += hits / i
    return total / len(relevant)


def mean(values: Iterable[float]) -> float:
    vals = list(values)
    return float(np.mean(vals)) if vals else float("nan")


def percentile(values: Iterable[float], q: float) -> float:
    vals = list(values)
    return float(np.percentile(vals, q)) if vals else float("nan")


def _normalise_words(text: str) -> list[str]:
    keep = "".join(c.lower() if c.isalnum() or c.isspace() or c == "'" else " " for c in text)
    return keep.split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, on lower-cased, punctuation-free words."""
    ref, hyp = _normalise_words(reference), _normalise_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    prev = list(range(len(hyp) + 1))
    for i, rw in enumerate(ref, start=1):
        cur = [i] + [0] * len(hyp)
        for j, hw in enumerate(hyp, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rw != hw))
        prev = cur
    return prev[-1] / len(ref)


def k_occurrence_skewness(neighbour_lists: Sequence[Sequence[str]], items: Sequence[str]) -> float:
    """Skewness of how often each item appears in others' k-NN lists (hubness; 0 = none)."""
    counts = {i: 0 for i in items}
    for lst in neighbour_lists:
        for r in lst:
            if r in counts:
                counts[r] += 1
    x = np.array(list(counts.values()), dtype=float)
    sd = x.std()
    return float(((x - x.mean()) ** 3).mean() / sd**3) if sd > 0 else 0.0
