"""The default sound view: DSP statistics fused with two trained networks.

No single model wins by much on real music (see the comparison in README/docs), so the view
concatenates complementary descriptions of one decode of the track:

* ``dsp``: hand-made timbre/harmony/rhythm/loudness statistics (127-d),
* ``musicnn``: a music-tagging network's embedding, mean over 3-s patches (200-d),
* ``tags``: musicnn's 50 tag probabilities (genres, moods, eras, instruments),
* ``aisfx``: a sound-effects network's embedding, mean over 2.3-s blocks (512-d).

Each block is z-scored over the library, scaled by ``weight / sqrt(block size)`` so a block's
influence on the cosine does not depend on how many numbers it has. The weights were chosen on
``tonearm eval`` (``bench/sound_variants.py``). In a library of at least ``DISCRIMINANT_MIN_TRACKS``
tracks, the weighted z-scores are then projected on ``DISCRIMINANT_DIMS`` discriminant directions
(track-LDA, see ``normalize.Discriminant``): the ones along which the library's tracks differ most,
relative to how much the networks' outputs wander within one recording. That within-recording
scatter ships with the analyzer (``fused_within.npz``, measured on game soundtracks that neither
benchmark uses; rebuilt by ``bench/sound_adaptation.py --write-within``). Finally, L2.

The view also keeps the track as a *set*: the networks' outputs averaged over ``SEGMENTS``
consecutive stretches of its analysed windows (field ``SEGMENTS_FIELD``). ``similar --match sets``
compares two tracks by their stretches (``tonearm.search.sets``), so a track whose intro and
chorus sound different can match another by either. Only the networks' part is stored per
stretch, as float16 deviations from the track's mean (the DSP statistics are per track): about
6 kB a track.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from tonearm.analyzers import aisfx, musicnn
from tonearm.analyzers.base import Analysis, Analyzer
from tonearm.analyzers.dsp import DspSoundAnalyzer
from tonearm.analyzers.normalize import Discriminant
from tonearm.audio.segments import DecodedAudio

# (block, size, weight): chosen by measurement on the small benchmark (bench/sound_variants.py, README).
BLOCKS: tuple[tuple[str, int, float], ...] = (
    ("dsp", 127, 0.5),
    ("musicnn", 200, 1.0),
    ("tags", 50, 0.5),
    ("aisfx", 512, 1.5),
)
# The networks see every other patch/block of each analysed window: half the cost, and on the
# benchmark a small loss (query-by-example MRR 0.570 -> 0.553; grouping P@5 0.876 -> 0.867).
PATCH_STRIDE = 2
# MTT_musicnn runs on every 4th patch, for its tags only (instruments, tempo, voice: text search).
MTT_STRIDE = 4
# The discriminant projection (bench/sound_adaptation.py, README "How the default was chosen").
DISCRIMINANT = "track-lda-1"  # the recipe's identity: changing the numbers below or the scatter file bumps it
DISCRIMINANT_DIMS = 32
DISCRIMINANT_RIDGE = 3.0
DISCRIMINANT_MIN_TRACKS = 64
WITHIN_FILE = Path(__file__).with_name("fused_within.npz")
# The track as a set of stretches (bench/sound_adaptation.py: Chamfer over 4 and 8 stretches scored
# alike; 4 stores half as much).
SEGMENTS = 4
SEGMENTS_FIELD = "ana_sound_segments"
_NET_BLOCKS = ("musicnn", "tags", "aisfx")
_NET_DIM = sum(size for name, size, _ in BLOCKS if name in _NET_BLOCKS)
_DSP_DIM = sum(size for name, size, _ in BLOCKS if name not in _NET_BLOCKS)  # first in BLOCKS: per track
_F16_MAX = float(np.finfo(np.float16).max)


def stretch_means(outputs: list[np.ndarray], segments: int = SEGMENTS) -> np.ndarray:
    """(S, sum of widths): each network's per-window outputs averaged over S consecutive stretches.

    The networks see windows of different lengths (3-s patches, 2.3-s blocks), so each is cut into
    the same number of stretches of its own windows; a track with fewer windows than ``segments``
    has fewer stretches.
    """
    s = max(1, min(segments, *(len(x) for x in outputs)))
    return np.concatenate(
        [np.array([x[idx].mean(axis=0) for idx in np.array_split(np.arange(len(x)), s)]) for x in outputs], axis=1
    )


def encode_segments(stretches: np.ndarray, track: np.ndarray) -> str:
    """``SEGMENTS_FIELD``'s value: the stretches' network outputs as base64 float16 deviations from the track's.

    Deviations, not values: some outputs sit far from zero and barely differ between tracks, where
    float16's rounding of the value itself (0.125 at 200) would swamp what tells tracks apart.
    """
    if stretches.ndim != 2 or stretches.shape[1] != _NET_DIM or track.shape != (FusedSoundAnalyzer.dim,):
        raise ValueError(f"expected (S, {_NET_DIM}) stretch outputs and a track vector, got {stretches.shape}")
    dev = np.clip(stretches - track[_DSP_DIM:], -_F16_MAX, _F16_MAX).astype("<f2")
    return base64.b64encode(dev.tobytes()).decode("ascii")


def segment_raws(raws: np.ndarray, encoded: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """The stretches of many tracks at once, from their raw vectors (n, dim) and ``SEGMENTS_FIELD`` values.

    Returns (M, dim) raw vectors of every stretch (each track's DSP statistics with its stretch's
    network outputs), track after track, and how many each track has (0 for a missing or damaged
    field). One base64 decode and one array for all: a query compares a hundred tracks.
    """
    raws = np.asarray(raws, np.float32)
    counts = np.zeros(len(encoded), np.int64)
    parts: list[np.ndarray] = []
    for i, text in enumerate(encoded):
        if not text:
            continue
        try:
            dev = np.frombuffer(base64.b64decode(text, validate=True), dtype="<f2")
        except ValueError:  # binascii.Error: not base64
            continue
        if dev.size and dev.size % _NET_DIM == 0 and np.all(np.isfinite(raws[i])):
            parts.append(dev)
            counts[i] = dev.size // _NET_DIM
    if not parts:
        return np.zeros((0, raws.shape[1]), np.float32), counts
    out = np.repeat(raws, counts, axis=0)
    out[:, _DSP_DIM:] += np.concatenate(parts).reshape(-1, _NET_DIM)
    return out, counts


@cache
def within_track_scatter() -> np.ndarray:
    """(dim, dim) scatter of one recording's stretches about its mean, in raw units.

    Stored as the upper triangle of the networks' block (DSP statistics are computed per track,
    so their rows are zero), float32: a megabyte instead of six.
    """
    with np.load(WITHIN_FILE) as data:
        upper, offset = data["upper"].astype(np.float64), int(data["offset"])
    size = FusedSoundAnalyzer.dim - offset
    block = np.zeros((size, size))
    block[np.triu_indices(size)] = upper
    block = block + np.triu(block, 1).T
    out = np.zeros((FusedSoundAnalyzer.dim, FusedSoundAnalyzer.dim))
    out[offset:, offset:] = block
    return out


class FusedSoundAnalyzer(Analyzer):
    """DSP + musicnn embedding + musicnn tags + aiSFX embedding, block-weighted."""

    name = "fused"
    # 2: MTT-only tags added as fields; 3: the stretches (SEGMENTS_FIELD). The vector is unchanged.
    version = 3
    view = "sound"
    dim = sum(size for _, size, _ in BLOCKS)
    sample_rate = aisfx.SR
    normalization = "standardize"
    extra_fields = (*musicnn.TAG_FIELDS, *musicnn.MTT_TAG_FIELDS, SEGMENTS_FIELD)
    field_types: ClassVar[dict[str, Literal["string", "number"]]] = {SEGMENTS_FIELD: "string"}
    segments_field = SEGMENTS_FIELD

    def __init__(self) -> None:
        self._dsp = DspSoundAnalyzer()

    def ensure_ready(self) -> None:
        musicnn.weights_dir("MSD_musicnn")
        musicnn.weights_dir("MTT_musicnn")
        aisfx.weights_path()

    def dim_weights(self) -> np.ndarray:
        return np.concatenate([np.full(size, weight / np.sqrt(size)) for _, size, weight in BLOCKS])

    def discriminant(self) -> Discriminant:
        return Discriminant(
            DISCRIMINANT, within_track_scatter(), DISCRIMINANT_DIMS, DISCRIMINANT_RIDGE, DISCRIMINANT_MIN_TRACKS
        )

    def segment_raws(self, raws: np.ndarray, encoded: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
        return segment_raws(raws, encoded)

    def analyze(self, audio: DecodedAudio) -> Analysis:
        parts: dict[str, np.ndarray] = {"dsp": self._dsp.analyze(audio)}
        patches = musicnn.mel_patches(audio.at(musicnn.SR))
        out = musicnn.load_net("MSD_musicnn").forward(patches[::PATCH_STRIDE])
        mtt = musicnn.load_net("MTT_musicnn").forward(patches[::MTT_STRIDE])
        parts["musicnn"] = out["penultimate"].mean(axis=0)
        parts["tags"] = out["taggram"].mean(axis=0)
        blocks = aisfx.embed(audio.at(aisfx.SR), stride=PATCH_STRIDE)
        parts["aisfx"] = blocks.mean(axis=0)
        vector = np.concatenate([parts[name] for name, _, _ in BLOCKS]).astype(np.float32)
        fields: dict[str, float | str] = dict(musicnn.tag_fields(out["taggram"], mtt["taggram"]))
        stretches = stretch_means([out["penultimate"], out["taggram"], blocks])
        fields[SEGMENTS_FIELD] = encode_segments(stretches, vector)
        return Analysis(vector, fields)
