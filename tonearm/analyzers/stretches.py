"""A track's stretches as search vectors: derived with the library's statistics, stored stamped.

An analyzer that keeps stretches (``Analyzer.segments_field``: its raw outputs over a few
consecutive stretches of the track) lets ``similar --match sets`` compare tracks as sets. A
stretch's search vector takes the library's statistics (z-score, weights, discriminant
projection), as the track vector does. Deriving them at query time costs each candidate's raw
outputs (3.5 kB) and stretches (6 kB) and a decode; so they are stored too, in ``set_field(view)``:
32 float32 numbers per stretch, stamped with the fingerprint of the statistics they came from.
The index run writes them with the track vector, and a refit rewrites them with it. A row whose
stamp is not the statistics in force (a refit killed after rewriting the vectors but before recording
its statistics, a row whose vector ``check`` repaired) is derived at query time from its raw outputs:
a stale stamp costs speed, never a wrong score.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

import numpy as np

from tonearm.analyzers.base import Analyzer
from tonearm.analyzers.normalize import Standardizer


def set_field(view: str) -> str:
    """The column holding ``view``'s stored stretch vectors (an internal ``ana_`` field)."""
    return f"ana_{view}_set"


def derive(
    analyzer: Analyzer,
    std: Standardizer,
    raws: np.ndarray,
    encoded: Sequence[str | None],
    dtype: type = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """Search vectors of many tracks' stretches, back to back, and how many each track has (0: none)."""
    raw_stretches, counts = analyzer.segment_raws(raws, encoded)
    if not len(raw_stretches):
        return np.zeros((0, std.output_dim()), np.float32), counts
    return std.apply(raw_stretches, dtype), counts


def encode(std: Standardizer, vectors: np.ndarray) -> str:
    """One track's stretch vectors as the stored text: ``<stamp>:<base64 float32>``."""
    data = np.ascontiguousarray(vectors, dtype="<f4").tobytes()
    return f"{std.fingerprint}:{base64.b64encode(data).decode('ascii')}"


def encode_many(std: Standardizer, vectors: np.ndarray, counts: np.ndarray) -> list[str | None]:
    """``encode`` per track of ``derive``'s output (None for a track without stretches)."""
    out: list[str | None] = []
    at = 0
    for n in counts:
        out.append(encode(std, vectors[at : at + n]) if n else None)
        at += n
    return out


def decode(text: str | None, std: Standardizer) -> np.ndarray | None:
    """A stored value's vectors (S, d), or None when missing, damaged or derived with other statistics."""
    return decode_many([text], std)[0]


def decode_many(texts: Sequence[str | None], std: Standardizer) -> list[np.ndarray | None]:
    """``decode`` of many values (a query re-ranks hundreds: the statistics' stamp and size are read once)."""
    stamp, dim = std.fingerprint + ":", std.output_dim()
    out: list[np.ndarray | None] = []
    for text in texts:
        flat = None
        if text and text.startswith(stamp):
            try:  # strict: a damaged value is refused, not decoded to other numbers
                flat = np.frombuffer(binascii.a2b_base64(text[len(stamp) :], strict_mode=True), dtype="<f4")
            except (binascii.Error, ValueError):
                flat = None
        out.append(flat.reshape(-1, dim) if flat is not None and flat.size and not flat.size % dim else None)
    return out
