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
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

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
    version = 2  # 2: MTT-only tags added as fields (the vector is unchanged)
    view = "sound"
    dim = sum(size for _, size, _ in BLOCKS)
    sample_rate = aisfx.SR
    normalization = "standardize"
    extra_fields = musicnn.TAG_FIELDS + musicnn.MTT_TAG_FIELDS

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

    def analyze(self, audio: DecodedAudio) -> Analysis:
        parts: dict[str, np.ndarray] = {"dsp": self._dsp.analyze(audio)}
        patches = musicnn.mel_patches(audio.at(musicnn.SR))
        out = musicnn.load_net("MSD_musicnn").forward(patches[::PATCH_STRIDE])
        mtt = musicnn.load_net("MTT_musicnn").forward(patches[::MTT_STRIDE])
        parts["musicnn"] = out["penultimate"].mean(axis=0)
        parts["tags"] = out["taggram"].mean(axis=0)
        parts["aisfx"] = aisfx.embed(audio.at(aisfx.SR), stride=PATCH_STRIDE).mean(axis=0)
        vector = np.concatenate([parts[name] for name, _, _ in BLOCKS]).astype(np.float32)
        return Analysis(vector, musicnn.tag_fields(out["taggram"], mtt["taggram"]))
