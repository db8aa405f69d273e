"""Library-wide standardisation of a view: z-score with fitted statistics, then L2.

Hand-made features mix units (dB, Hz, ratios); z-scoring over the user's own library makes
each dimension count equally for *their* music, and L2 turns cosine similarity into a dot
product the vector index can serve. The statistics are refitted when the library has
grown or shrunk noticeably since the last fit (see ``needs_refit``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_MIN_STD = 1e-6
REFIT_GROWTH = 0.2  # refit once the view's row count drifts 20% from the fitted count


@dataclass(frozen=True)
class Standardizer:
    """Fitted per-dimension mean/std for one analyzer's raw vectors."""

    analyzer: str
    mean: np.ndarray
    std: np.ndarray
    n: int
    weights: np.ndarray | None = None  # per-dimension, after z-scoring (block weights of a fusion)

    @classmethod
    def fit(cls, analyzer: str, raw: np.ndarray, weights: np.ndarray | None = None) -> Standardizer:
        raw = np.asarray(raw, dtype=np.float64)
        if raw.shape[0] == 0:
            return cls(analyzer, np.zeros(raw.shape[1]), np.ones(raw.shape[1]), 0, weights)
        moments = Moments()
        moments.add(raw)
        return moments.standardizer(analyzer, weights)

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Standardise, weight and L2-normalise rows (a single vector works too)."""
        z = (np.asarray(raw, dtype=np.float64) - self.mean) / self.std
        if self.weights is not None:
            z = z * self.weights
        norm = np.linalg.norm(z, axis=-1, keepdims=True)
        return (z / np.maximum(norm, 1e-12)).astype(np.float32)

    def to_json(self) -> dict:
        weights = None if self.weights is None else np.asarray(self.weights).tolist()
        return {"analyzer": self.analyzer, "mean": self.mean.tolist(), "std": self.std.tolist(), "n": self.n,
                "weights": weights}  # fmt: skip

    @classmethod
    def from_json(cls, d: dict) -> Standardizer:
        w = d.get("weights")
        return cls(d["analyzer"], np.asarray(d["mean"]), np.asarray(d["std"]), int(d["n"]),
                   None if w is None else np.asarray(w))  # fmt: skip

    def needs_refit(self, analyzer: str, count: int) -> bool:
        """True when the statistics are for another analyzer or the row count drifted."""
        if analyzer != self.analyzer or self.n < 2:
            return True
        return abs(count - self.n) > REFIT_GROWTH * self.n


def l2(vec: np.ndarray) -> np.ndarray:
    """L2-normalise rows (used for views whose analyzer needs no standardisation)."""
    v = np.asarray(vec, dtype=np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


class Moments:
    """Per-dimension count, mean and squared deviations, accumulated batch by batch.

    A library-wide refit reads a million raw vectors; merging per-batch moments (Chan et al.'s
    pairwise update) gives the statistics of all of them with one batch in memory, and without
    the cancellation of summing squares.
    """

    def __init__(self) -> None:
        self.n = 0
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None

    def add(self, rows: np.ndarray) -> None:
        x = np.asarray(rows, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0:
            return
        nb, mb = x.shape[0], x.mean(0)
        m2b = ((x - mb) ** 2).sum(0)
        if self.mean is None or self.m2 is None:
            self.n, self.mean, self.m2 = nb, mb, m2b
            return
        n = self.n + nb
        delta = mb - self.mean
        self.mean = self.mean + delta * (nb / n)
        self.m2 = self.m2 + m2b + delta**2 * (self.n * nb / n)
        self.n = n

    def standardizer(self, analyzer: str, weights: np.ndarray | None = None) -> Standardizer:
        if self.mean is None or self.m2 is None:
            raise ValueError("no rows to fit statistics on")
        if self.n < 2:
            dim = self.mean.shape[0]
            return Standardizer(analyzer, np.zeros(dim), np.ones(dim), self.n, weights)
        std = np.sqrt(self.m2 / self.n)
        return Standardizer(analyzer, self.mean, np.maximum(std, _MIN_STD), self.n, weights)
