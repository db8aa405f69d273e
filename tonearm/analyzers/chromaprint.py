"""Fingerprint view: Chromaprint's raw fingerprint, for finding the same recording in several files.

Chromaprint (the library behind AcoustID, reached through ``pyacoustid``'s ctypes binding)
turns ~0.12 s of audio into one 32-bit word of chroma-contrast bits. Re-encoding (MP3, Vorbis,
Opus, AAC at any bitrate) flips 1-3% of those bits; a different recording, even of the same
tune on the same instrument, flips about half of them. That gap is what makes duplicate
detection safe: the decision is made on the bits themselves (see
:mod:`tonearm.library.duplicates`), never on a similarity score.

The view's vector only proposes candidates cheaply through the store's k-NN: the fraction of
set bits per bit position in each of ``_BLOCKS`` time blocks, centred. Copies of a recording
land on nearly the same point; the bit comparison then accepts or rejects each candidate.
The raw words are kept in ``ana_fingerprint`` (base64, little-endian uint32) with a short
digest in ``ana_fingerprint_key`` so the duplicate pass can tell which rows are new without
reading every fingerprint.

Chroma bits alone can be fooled by signals with little musical structure: two white-noise
tracks, or two sweeps a semitone apart, differ in only 5-17% of their bits. So the analyzer
also keeps a loudness contour (``ana_loudness``: dBFS per Chromaprint hop, 0.25 dB steps), an
independent second witness that re-encodes preserve and unrelated recordings do not share.

The audio is the core engine's bounded analysis audio (whole tracks up to two minutes, evenly
spread windows beyond): two copies of one recording have the same duration, hence the same
windows.
"""

from __future__ import annotations

import base64
import hashlib
from typing import ClassVar, Literal

import numpy as np

from tonearm.analyzers.base import Analysis, Analyzer
from tonearm.audio.segments import DecodedAudio
from tonearm.errors import TonearmError

_SR = 11025  # Chromaprint's own working rate: feeding it this rate spares its resampler
_BLOCKS = 16
_BITS = 32
# Fewer frames than this (~2.5 s) or too little variety (silence, a steady tone) is no identity.
MIN_FRAMES = 20
MIN_DISTINCT = 0.2
HOP = 1365  # Chromaprint's hop at 11025 Hz (4096-sample frames, 2/3 overlap): one contour value per word
_FLOOR_DB = -60.0
_DB_STEP = 0.25


def _binding():  # the module object of pyacoustid's binding
    try:
        import chromaprint  # from pyacoustid; loads libchromaprint.so through ctypes
    except ImportError as exc:
        raise TonearmError("the fingerprint view needs pyacoustid: pip install pyacoustid") from exc
    except OSError as exc:  # pragma: no cover - depends on the system library
        raise TonearmError(
            "the fingerprint view needs the Chromaprint library: apt install libchromaprint1 "
            f"(or brew install chromaprint) ({exc})"
        ) from exc
    return chromaprint


def raw_fingerprint(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Chromaprint's raw 32-bit words for mono float samples (algorithm 2, the AcoustID default)."""
    cp = _binding()
    if samples.size < sample_rate:  # under a second: Chromaprint returns nothing useful
        return np.zeros(0, np.uint32)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    fp = cp.Fingerprinter()
    fp.start(sample_rate, 1)
    fp.feed(pcm.tobytes())
    words, _version = cp.decode_fingerprint(fp.finish())
    return np.asarray(words, dtype=np.int64).astype(np.uint32)


def encode_words(words: np.ndarray) -> str:
    return base64.b64encode(words.astype("<u4").tobytes()).decode("ascii")


def decode_words(text: str | None) -> np.ndarray:
    if not text:
        return np.zeros(0, np.uint32)
    return np.frombuffer(base64.b64decode(text), dtype="<u4").astype(np.uint32)


def loudness_contour(samples: np.ndarray) -> np.ndarray:
    """dBFS of each ``HOP``-sample frame, floored at -60 dB, quantised to 0.25 dB (uint8)."""
    n = samples.size // HOP
    if n == 0:
        return np.zeros(0, np.uint8)
    frames = samples[: n * HOP].reshape(n, HOP).astype(np.float64)
    db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    return np.round((np.clip(db, _FLOOR_DB, 0.0) - _FLOOR_DB) / _DB_STEP).astype(np.uint8)


def encode_contour(contour: np.ndarray) -> str:
    return base64.b64encode(contour.astype(np.uint8).tobytes()).decode("ascii")


def decode_contour(text: str | None) -> np.ndarray:
    """The contour in dB (relative to the -60 dB floor)."""
    if not text:
        return np.zeros(0, np.float32)
    return np.frombuffer(base64.b64decode(text), dtype=np.uint8).astype(np.float32) * _DB_STEP


def is_distinctive(words: np.ndarray) -> bool:
    """Enough frames and enough variety to identify a recording (not silence or a drone)."""
    return words.size >= MIN_FRAMES and np.unique(words).size >= MIN_DISTINCT * words.size


def summary_vector(words: np.ndarray) -> np.ndarray:
    """Bit-set fractions per position in ``_BLOCKS`` time blocks, centred: a k-NN key for candidates."""
    out = np.zeros((_BLOCKS, _BITS), np.float32)
    if not is_distinctive(words):
        return out.ravel()  # all zeros: the indexer leaves it unsearchable
    bits = ((words[:, None] >> np.arange(_BITS, dtype=np.uint32)) & 1).astype(np.float32)
    for b, chunk in enumerate(np.array_split(bits, _BLOCKS)):
        out[b] = chunk.mean(axis=0) - 0.5
    return out.ravel()


class ChromaprintAnalyzer(Analyzer):
    name = "chromaprint"
    version = 1
    view = "fingerprint"
    dim = _BLOCKS * _BITS
    sample_rate = _SR
    normalization = "none"
    extra_fields = ("ana_fingerprint", "ana_fingerprint_key", "ana_loudness")
    field_types: ClassVar[dict[str, Literal["string", "number"]]] = {
        "ana_fingerprint": "string",
        "ana_fingerprint_key": "string",
        "ana_loudness": "string",
    }

    def ensure_ready(self) -> None:
        _binding()

    def analyze(self, audio: DecodedAudio) -> Analysis:
        # Each window is fingerprinted on its own so no word straddles a seam between windows.
        segments = audio.at(_SR)
        words = np.concatenate([raw_fingerprint(seg, _SR) for seg in segments] or [np.zeros(0, np.uint32)])
        if not is_distinctive(words):
            empty = dict.fromkeys(self.extra_fields)
            return Analysis(np.zeros(self.dim, np.float32), empty)
        text = encode_words(words)
        key = hashlib.blake2b(text.encode("ascii"), digest_size=8).hexdigest()
        contour = np.concatenate([loudness_contour(seg) for seg in segments])
        fields = {"ana_fingerprint": text, "ana_fingerprint_key": key, "ana_loudness": encode_contour(contour)}
        return Analysis(summary_vector(words), fields)
