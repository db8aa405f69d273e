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
        if raw.shape[0] < 2:
            return cls(analyzer, np.zeros(raw.shape[1]), np.ones(raw.shape[1]), int(raw.shape[0]), weights)
        return cls(analyzer, raw.mean(0), np.maximum(raw.std(0), _MIN_STD), int(raw.shape[0]), weights)

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
