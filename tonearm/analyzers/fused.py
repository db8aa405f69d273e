"""The default sound view: DSP statistics fused with two trained networks.

No single model wins by much on real music (see the comparison in README/docs), so the view
concatenates complementary descriptions of one decode of the track:

* ``dsp``: hand-made timbre/harmony/rhythm/loudness statistics (127-d),
* ``musicnn``: a music-tagging network's embedding, mean over 3-s patches (200-d),
* ``tags``: musicnn's 50 tag probabilities (genres, moods, eras, instruments),
* ``aisfx``: a sound-effects network's embedding, mean over 2.3-s blocks (512-d).

Each block is z-scored over the library, scaled by ``weight / sqrt(block size)`` so a block's
influence on the cosine does not depend on how many numbers it has, and the whole vector is
L2-normalised. The weights were chosen on ``tonearm eval`` (``bench/sound_variants.py``).
"""

from __future__ import annotations

import numpy as np

from tonearm.analyzers import aisfx, musicnn
from tonearm.analyzers.base import Analysis, Analyzer
from tonearm.analyzers.dsp import DspSoundAnalyzer
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
