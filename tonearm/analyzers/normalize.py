"""Library-wide standardisation of a view: z-score with fitted statistics, then L2.

Hand-made features mix units (dB, Hz, ratios); z-scoring over the user's own library makes
each dimension count equally for *their* music, and L2 turns cosine similarity into a dot
product the vector index can serve. The statistics are refitted when the library has
grown or shrunk noticeably since the last fit (see ``needs_refit``).

An analyzer may also ask for a **discriminant projection** (see ``Discriminant``): after z-scoring,
the vector is projected on the few directions along which the library's tracks differ most from
each other relative to how much one recording varies along its own length. The between-track
spread is the library's own (a full covariance, fitted with the statistics); the within-track
spread is the analyzer's, measured once on reference recordings and shipped with it, because it
describes the analyzer's features more than anybody's music (measured: estimated on one set of
recordings, it serves another as well as that set's own; ``bench/sound_adaptation.py``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.linalg import eigh

_MIN_STD = 1e-6
REFIT_GROWTH = 0.2  # during an index run: refit once the view's row count drifts 20% from the fitted count
# At the end of a run: a 2% drift is enough. A discriminant projection serves the tracks it was fitted on
# best; the 20% rule alone could leave a sixth of a new library, often the last kind of music added, unseen.
FINAL_REFIT_GROWTH = 0.02
ZSCORE = "zscore"  # the method of plain standardisation (no projection)


@dataclass(frozen=True, eq=False)
class Discriminant:
    """An analyzer's recipe for a library-fitted discriminant projection (track-LDA).

    The directions solve ``between v = lambda (within + ridge) v``: ``between`` is the covariance of
    the library's z-scored track vectors, ``within`` the scatter of one track's stretches about its
    own mean (the analyzer's, in raw units; rescaled to the library's z-scores at fit time), ridged by
    ``ridge`` x its mean eigenvalue. Two stretches of one recording are "the same sound", so no label
    is needed. Below ``min_tracks`` tracks the library is too small to say which directions separate
    its tracks, and plain z-scores are used.
    """

    name: str  # recorded with the fitted statistics: a new recipe refits every library
    within: np.ndarray  # (dim, dim), raw units
    dims: int = 32
    ridge: float = 3.0
    min_tracks: int = 64

    def method(self, tracks: int) -> str:
        """The method a library of ``tracks`` tracks is standardised with."""
        return self.name if tracks >= self.min_tracks else ZSCORE


def method_for(discriminant: Discriminant | None, tracks: int) -> str:
    return discriminant.method(tracks) if discriminant is not None else ZSCORE


@dataclass(frozen=True)
class Standardizer:
    """Fitted per-dimension mean/std for one analyzer's raw vectors."""

    analyzer: str
    mean: np.ndarray
    std: np.ndarray
    n: int
    weights: np.ndarray | None = None  # per-dimension, after z-scoring (block weights of a fusion)
    method: str = ZSCORE
    # (dim, d) float32: the discriminant directions; the search vector is the d projections (the store's
    # search column then has d numbers while the raw column keeps the analyzer's dimension).
    projection: np.ndarray | None = None

    @classmethod
    def fit(cls, analyzer: str, raw: np.ndarray, weights: np.ndarray | None = None) -> Standardizer:
        raw = np.asarray(raw, dtype=np.float64)
        if raw.shape[0] == 0:
            return cls(analyzer, np.zeros(raw.shape[1]), np.ones(raw.shape[1]), 0, weights)
        moments = Moments()
        moments.add(raw)
        return moments.standardizer(analyzer, weights)

    @cached_property
    def fingerprint(self) -> str:
        """Identity of these statistics (12 hex digits): what stored vectors derived with them are stamped with.

        Taken from the stored form, so statistics read back from the library have the identity of
        those the index run fitted."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(text.encode()).hexdigest()[:12]

    def output_dim(self) -> int:
        """Numbers in a search vector this fit makes (the analyzer's dimension, or the projection's)."""
        return int(self.projection.shape[1]) if self.projection is not None else int(np.shape(self.mean)[0])

    def apply(self, raw: np.ndarray, dtype: type = np.float64) -> np.ndarray:
        """Standardise, weight, project (if fitted so) and L2-normalise rows (a single vector works too).

        ``dtype``: the arithmetic's precision. Stored vectors are derived in float64; float32 serves
        values that are only compared at query time (hundreds of stretches per query, ``search.sets``).
        """
        z = (np.asarray(raw, dtype=dtype) - self.mean.astype(dtype)) / self.std.astype(dtype)
        if self.weights is not None:
            z = z * np.asarray(self.weights, dtype=dtype)
        if self.projection is not None:
            z = z @ self.projection.astype(dtype)
        norm = np.linalg.norm(z, axis=-1, keepdims=True)
        return (z / np.maximum(norm, 1e-12)).astype(np.float32)

    def to_json(self) -> dict:
        weights = None if self.weights is None else np.asarray(self.weights).tolist()
        out = {"analyzer": self.analyzer, "mean": self.mean.tolist(), "std": self.std.tolist(), "n": self.n,
               "weights": weights, "method": self.method}  # fmt: skip
        if self.projection is not None:  # float32 bytes: a few hundred kB instead of megabytes of digits
            p = np.ascontiguousarray(self.projection, dtype="<f4")
            out["projection"] = {"shape": list(p.shape), "f32": base64.b64encode(p.tobytes()).decode("ascii")}
        return out

    @classmethod
    def from_json(cls, d: dict) -> Standardizer:
        w, p = d.get("weights"), d.get("projection")
        projection = None
        if p is not None:
            projection = np.frombuffer(base64.b64decode(p["f32"]), dtype="<f4").reshape(p["shape"]).astype(np.float32)
        return cls(d["analyzer"], np.asarray(d["mean"]), np.asarray(d["std"]), int(d["n"]),
                   None if w is None else np.asarray(w), d.get("method", ZSCORE), projection)  # fmt: skip

    def needs_refit(self, analyzer: str, count: int, method: str = ZSCORE, growth: float = REFIT_GROWTH) -> bool:
        """True when the statistics are for another analyzer or method, or the row count drifted by
        more than ``growth`` (a share of the fitted count)."""
        if analyzer != self.analyzer or self.n < 2 or method != self.method:
            return True
        return abs(count - self.n) > growth * self.n


def l2(vec: np.ndarray) -> np.ndarray:
    """L2-normalise rows (used for views whose analyzer needs no standardisation)."""
    v = np.asarray(vec, dtype=np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


class Moments:
    """Count, mean and squared deviations (optionally the full co-deviation matrix), batch by batch.

    A library-wide refit reads a million raw vectors; merging per-batch moments (Chan et al.'s
    pairwise update) gives the statistics of all of them with one batch in memory, and without
    the cancellation of summing squares. The full matrix (``covariance=True``) is what a
    discriminant projection needs: 889 x 889 float64 is 6 MB, whatever the library's size.
    """

    def __init__(self, covariance: bool = False) -> None:
        self.n = 0
        self.covariance = covariance
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None
        self.c2: np.ndarray | None = None

    def add(self, rows: np.ndarray) -> None:
        x = np.asarray(rows, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0:
            return
        nb, mb = x.shape[0], x.mean(0)
        xc = x - mb
        m2b = (xc**2).sum(0)
        c2b = xc.T @ xc if self.covariance else None
        if self.mean is None or self.m2 is None:
            self.n, self.mean, self.m2, self.c2 = nb, mb, m2b, c2b
            return
        n = self.n + nb
        delta = mb - self.mean
        self.mean = self.mean + delta * (nb / n)
        self.m2 = self.m2 + m2b + delta**2 * (self.n * nb / n)
        if self.c2 is not None and c2b is not None:
            self.c2 = self.c2 + c2b + np.outer(delta, delta) * (self.n * nb / n)
        self.n = n

    def standardizer(
        self, analyzer: str, weights: np.ndarray | None = None, discriminant: Discriminant | None = None
    ) -> Standardizer:
        if self.mean is None or self.m2 is None:
            raise ValueError("no rows to fit statistics on")
        if self.n < 2:
            dim = self.mean.shape[0]
            return Standardizer(analyzer, np.zeros(dim), np.ones(dim), self.n, weights)
        std = np.maximum(np.sqrt(self.m2 / self.n), _MIN_STD)
        method = method_for(discriminant, self.n)
        if discriminant is None or method == ZSCORE:
            return Standardizer(analyzer, self.mean, std, self.n, weights)
        if self.c2 is None:
            raise ValueError("a discriminant projection needs Moments(covariance=True)")
        projection = _discriminant_directions(self.c2 / self.n, std, weights, discriminant)
        return Standardizer(analyzer, self.mean, std, self.n, weights, method, projection)


def _discriminant_directions(
    covariance: np.ndarray, std: np.ndarray, weights: np.ndarray | None, recipe: Discriminant
) -> np.ndarray:
    """(dim, d) float32 directions of largest between-track over ridged within-track spread, in
    the library's weighted z-score space (both scatters rescaled by the same per-dimension factors)."""
    scale = (np.ones_like(std) if weights is None else np.asarray(weights, np.float64)) / std
    between = covariance * np.outer(scale, scale)
    within = np.asarray(recipe.within, np.float64) * np.outer(scale, scale)
    dim = len(std)
    level = np.trace(within) / dim
    ridged = within + recipe.ridge * (level if level > 0 else 1.0) * np.eye(dim)
    _, vectors = eigh(between, ridged)
    top = vectors[:, ::-1][:, : recipe.dims]
    # A direction's sign is arbitrary: fix it (largest entry positive) so two fits of one library agree.
    signs = np.sign(top[np.abs(top).argmax(axis=0), np.arange(top.shape[1])])
    return (top * np.where(signs == 0, 1.0, signs)).astype(np.float32)
