"""Counting landmark votes: the numpy kernels behind a postings lookup and a clip's realignment on one track.

Each hit of a lookup says where the clip would start (a frame on a timeline); a true match piles hits on
one offset, within a frame either side (tempo slack), while chance spreads them thin. These functions
turn hits into those windows, fast enough for the millions of chance hits a large library yields.
"""

from __future__ import annotations

import numpy as np


def expand(lo: np.ndarray, n: np.ndarray, values: np.ndarray, times: np.ndarray) -> np.ndarray:
    """``values[lo[i] : lo[i] + n[i]] - times[i]`` for every i, end to end: for postings, where the clip would start
    by each posting of each query hash (posting frame minus the frame of the query hash that found it)."""
    total = int(n.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ends = np.cumsum(n)
    idx = np.repeat(lo - (ends - n), n) + np.arange(total)
    return np.asarray(values[idx], np.int64) - np.repeat(times, n)


def choose(sizes: np.ndarray, cap: int, budget: int | None) -> np.ndarray:
    """Which query hashes to read, given their postings counts: at most ``cap`` postings each and, with a budget,
    the rarest first until ``budget`` postings are reached.

    A true match has its postings among the rare and the common hashes alike, while the common ones bring nearly
    all the chance hits: rarest first keeps most of a match's votes for a fraction of the reading. A small library
    never reaches the budget; a library of 100k tracks reads a bounded amount per query.
    """
    keep = (sizes > 0) & (sizes <= cap)
    if budget is not None and int(sizes[keep].sum()) > budget:
        order = np.flatnonzero(keep)[np.argsort(sizes[keep], kind="stable")]
        keep = np.zeros(sizes.size, bool)
        keep[order[np.cumsum(sizes[order]) <= budget]] = True
    return keep


def windows(g: np.ndarray, min_score: int) -> tuple[np.ndarray, np.ndarray]:
    """The offsets that centre a window (offset-1..offset+1) of at least ``min_score`` hits, ascending, and its hits.

    A large library yields millions of hits per query, nearly all by chance: they are counted by one sort of 32-bit
    keys (relative to the smallest hit; vectorised sorts are fastest on them), and only offsets next to one that
    holds a third of ``min_score`` can centre a qualifying window, so the window sums run on those alone.
    """
    empty = np.zeros(0, np.int64)
    if g.size == 0:
        return empty, empty
    base = int(g.min())
    v = (g - base).astype(np.uint32) if int(g.max()) - base < 2**32 else g - base
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
    starts: np.ndarray, g: np.ndarray, min_score: int, lead: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each track's best aligned window: (track index, offset, score) where score is the number of hits within one
    frame of the offset, for tracks scoring at least ``min_score``.

    ``g`` holds, per hit, the clip start on a timeline whose tracks begin at ``starts`` (see ``windows``); a clip
    start up to ``lead`` frames before a track's first frame still belongs to that track.
    """
    d, score = windows(g, min_score)
    track = np.searchsorted(starts, d + lead, side="right") - 1
    ok = track >= 0
    d, score, track = d[ok], score[ok], track[ok]
    order = np.lexsort((-score, track))
    first = order[np.r_[True, track[order][1:] != track[order][:-1]]] if order.size else order
    return track[first], d[first] - starts[track[first]], score[first]
