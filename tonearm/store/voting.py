"""Counting landmark votes: the numpy kernels behind a postings lookup and a clip's realignment on one track.

Each hit of a lookup says where the clip would start (a frame on a timeline); a true match piles hits on
one offset, within a frame either side (tempo slack), while chance spreads them thin. These functions
turn hits into those windows, fast enough for the millions of chance hits a large library yields.
"""

from __future__ import annotations

import numpy as np


def _spans(lo: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The positions ``lo[i] .. lo[i] + n[i] - 1`` for every i, end to end (``n`` sums to more than 0)."""
    ends = np.cumsum(n)
    return np.repeat(lo - (ends - n), n) + np.arange(int(ends[-1]))


def expand(lo: np.ndarray, n: np.ndarray, values: np.ndarray, times: np.ndarray) -> np.ndarray:
    """``values[lo[i] : lo[i] + n[i]] - times[i]`` for every i, end to end: for postings, where the clip would start
    by each posting of each query hash (posting frame minus the frame of the query hash that found it)."""
    if int(n.sum()) == 0:
        return np.zeros(0, np.int64)
    return np.asarray(values[_spans(lo, n)], np.int64) - np.repeat(times, n)


def gather(postings: np.ndarray, lo: np.ndarray, n: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``postings[lo[i] : lo[i] + n[i]] + shift[i]`` for every i, end to end, as uint32 (``shift`` >= 0): ``expand``
    for the common case, its hits in 4-byte numbers (half the memory to move and sort)."""
    if int(n.sum()) == 0:
        return np.zeros(0, np.uint32)
    g = np.asarray(postings)[_spans(lo, n)].astype(np.uint32, copy=False)
    g += np.repeat(np.asarray(shift, np.uint32), n)
    return g


def choose(sizes: np.ndarray, cap: int, budget: int | None, weights: np.ndarray | None = None) -> np.ndarray:
    """Which query hashes to read, given their postings counts: at most ``cap`` postings each and, with a budget,
    those of most weight per posting first (``weights[i] / sizes[i]``; by default every weight is 1: the rarest
    first) until ``budget`` postings are reached. An entry of weight 0 or less is never read.

    A true match has its postings among the rare and the common hashes alike, while the common ones bring nearly
    all the chance hits: rarest first keeps most of a match's votes for a fraction of the reading. A query that
    knows which of its hashes are likelier to be true (its strongest peaks: ``tonearm.search.identify``) weighs
    them up. A small library never reaches the budget; a library of 100k tracks reads a bounded amount per query.
    """
    keep = (sizes > 0) & (sizes <= cap)
    if weights is not None:
        keep &= np.asarray(weights, np.float64) > 0
    if budget is not None and int(sizes[keep].sum()) > budget:
        cand = np.flatnonzero(keep)
        cost = sizes[cand] if weights is None else sizes[cand] / np.asarray(weights, np.float64)[cand]
        order = cand[np.argsort(cost, kind="stable")]  # ties in query order, as the PostgreSQL backend reads them
        keep = np.zeros(sizes.size, bool)
        keep[order[np.cumsum(sizes[order]) <= budget]] = True
    return keep


PREFILTER_MIN_HITS = 20_000  # below this many hits, sorting them all is cheaper than screening them first


def screen(v: np.ndarray, min_score: int) -> np.ndarray:
    """The hits of ``v`` (non-negative offsets) that may belong to a window of ``min_score`` hits: the others dropped
    before the sort, which dominates a lookup's time.

    Offsets are counted in 4-frame bins hashed into a table about twice the hits' number (so a bin holds under
    one hit by chance): a window offset-1..offset+1 lies within two neighbouring bins, so where no two neighbouring
    bins hold ``min_score`` hits together no window can qualify. Collisions only add to a bin, so nothing that
    qualifies is ever dropped. At 100k tracks 99.9% of a lookup's hits go (``bench/bench_identify.py``'s clips).
    """
    bits = int(np.clip(np.ceil(np.log2(2 * v.size)), 12, 22))
    key = (v >> 2) & ((1 << bits) - 1)
    count = np.bincount(key.astype(np.intp, copy=False), minlength=1 << bits)
    first = int(count[0])
    count[:-1] += count[1:]  # bins k and k+1 together (the table wraps around)
    count[-1] += first
    both = count >= min_score
    keep = both.copy()
    keep[1:] |= both[:-1]
    keep[0] |= both[-1]
    return v[keep[key]]


def windows(g: np.ndarray, min_score: int) -> tuple[np.ndarray, np.ndarray]:
    """The offsets that centre a window (offset-1..offset+1) of at least ``min_score`` hits, ascending, and its hits.

    A large library yields millions of hits per query, nearly all by chance: the hits that cannot reach a window
    are screened out (``screen``), the rest counted by one sort of 32-bit keys (relative to the smallest hit, or
    as given when ``g`` is uint32, which may then be sorted in place; vectorised sorts are fastest on them), and
    only offsets next to one that holds a third of ``min_score`` can centre a qualifying window, so the window
    sums run on those alone.
    """
    empty = np.zeros(0, np.int64)
    if g.size == 0:
        return empty, empty
    if g.dtype == np.uint32:  # from ``gather``: sorted in place
        base, v = 0, g
    else:
        base = int(g.min())
        v = (g - base).astype(np.uint32) if int(g.max()) - base < 2**32 else g - base
    if v.size >= PREFILTER_MIN_HITS and min_score >= 3:
        v = screen(v, min_score)
        if v.size == 0:
            return empty, empty
    v.sort()
    head = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
    count = np.diff(np.r_[head, v.size])
    heavy = np.flatnonzero(count >= -(-min_score // 3))
    if heavy.size == 0:
        return empty, empty
    centre = np.unique(np.clip(np.concatenate([heavy - 1, heavy, heavy + 1]), 0, head.size - 1))
    u = v[head].astype(np.int64)
    score = count[centre].copy()
    for step in (-1, 1):
        nb = np.clip(centre + step, 0, head.size - 1)
        score += count[nb] * ((u[nb] == u[centre] + step) & (nb != centre))
    ok = score >= min_score
    return u[centre][ok] + base, score[ok]


def aligned_windows(
    starts: np.ndarray, g: np.ndarray, min_score: int, lead: int, bias: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each track's best aligned window: (track index, offset, score) where score is the number of hits within one
    frame of the offset, for tracks scoring at least ``min_score``.

    ``g`` holds, per hit, the clip start on a timeline whose tracks begin at ``starts`` (see ``windows``); a clip
    start up to ``lead`` frames before a track's first frame still belongs to that track. ``bias`` is a constant
    every hit of ``g`` carries (``gather`` keeps hits non-negative that way).
    """
    d, score = windows(g, min_score)
    d = d - bias
    track = np.searchsorted(starts, d + lead, side="right") - 1
    ok = track >= 0
    d, score, track = d[ok], score[ok], track[ok]
    order = np.lexsort((-score, track))
    first = order[np.r_[True, track[order][1:] != track[order][:-1]]] if order.size else order
    return track[first], d[first] - starts[track[first]], score[first]
