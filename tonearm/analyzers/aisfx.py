"""aiSFX embeddings in numpy: a 9-layer CNN trained on sound-effect libraries, without torch.

Weights: ``models/checkpoint.pth`` in the ``aisfx==0.1.2`` wheel (weights CC BY 4.0,
Hwang & Pardo et al., "aiSFX", ISMIR; ``pip install --no-deps aisfx==0.1.2``), read by our
own torch-checkpoint reader. The network (DCASE cross-task baseline, "X-Sequential-CE"): four
blocks of two 3x3 convolutions with batch norm and ReLU, 2x2 max pooling after the first
three, then mean over frequency and max over time: one 512-d embedding per 100-frame
block (~2.3 s) of a 96-band log-mel spectrogram at 44.1 kHz.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import librosa
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tonearm.analyzers.base import Analyzer
from tonearm.audio.segments import DecodedAudio
from tonearm.errors import TonearmError

SR = 44100
N_FFT = 2048
HOP = 1024
N_MELS = 96
BLOCK = 100  # spectrogram frames per embedding
_SPEC_MAX = 9.457798957824707  # the authors' cross-dataset normalisation constant
_BN_EPS = 1e-5


def weights_path() -> Path:
    spec = importlib.util.find_spec("aisfx")
    if spec is None or not spec.submodule_search_locations:
        raise TonearmError(
            "the aiSFX weights are not installed: pip install --no-deps aisfx==0.1.2 "
            "(tonearm reads the checkpoint itself; torch is not needed)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "checkpoint.pth"
    if not path.is_file():
        raise TonearmError(f"aiSFX checkpoint missing: {path}")
    return path


def log_mel(y: np.ndarray) -> np.ndarray:
    """(frames, 96) normalised log-mel spectrogram, as the authors compute it (time first)."""
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    y = y / peak if peak > 0 else y
    mel = librosa.feature.melspectrogram(y=y, sr=SR, n_mels=N_MELS, norm=1.0, fmin=0.0, fmax=SR / 2, htk=True,
                                         power=2.0, hop_length=HOP, win_length=N_FFT)  # fmt: skip
    return (np.log10(mel * 10000.0 + 1.0) / _SPEC_MAX).T.astype(np.float32)


def blocks(spec: np.ndarray, hop: int = BLOCK // 2) -> np.ndarray:
    """(n, 100, 96) blocks with 50% overlap; a short input is zero-padded to one block."""
    if spec.shape[0] < BLOCK:
        spec = np.vstack([spec, np.zeros((BLOCK - spec.shape[0], spec.shape[1]), np.float32)])
    starts = range(0, spec.shape[0] - BLOCK + 1, hop)
    return np.stack([spec[s : s + BLOCK] for s in starts])


class AisfxNet:
    """Forward pass of the aiSFX embedding network (inference mode)."""

    def __init__(self) -> None:
        from tonearm.analyzers.weights.torch_checkpoint import read_torch_checkpoint

        state, _datasets = read_torch_checkpoint(weights_path())
        self.layers = []
        for b in range(1, 5):
            for c in (1, 2):
                pre = f"embedding_net.conv_block{b}"
                kernel = state[f"{pre}.conv{c}.weight"]  # (out, in, 3, 3)
                g, beta = state[f"{pre}.bn{c}.weight"], state[f"{pre}.bn{c}.bias"]
                mean, var = state[f"{pre}.bn{c}.running_mean"], state[f"{pre}.bn{c}.running_var"]
                scale = g / np.sqrt(var + _BN_EPS)
                # im2col weight: (3*3*in, out) with (dy, dx, in) ordering
                w = kernel.transpose(2, 3, 1, 0).reshape(-1, kernel.shape[0]).astype(np.float32)
                self.layers.append((w, scale.astype(np.float32), (beta - mean * scale).astype(np.float32)))

    @staticmethod
    def _conv3x3(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """'Same' 3x3 convolution of (B, H, W, C) -> (B, H, W, C_out) via im2col."""
        b, h, wd, c = x.shape
        xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        cols = sliding_window_view(xp, (3, 3), axis=(1, 2))  # (B, H, W, C, 3, 3)
        cols = cols.transpose(0, 1, 2, 4, 5, 3).reshape(b * h * wd, 9 * c)
        return (cols @ w).reshape(b, h, wd, -1)

    def forward(self, batch: np.ndarray) -> np.ndarray:
        """(B, 100, 96) spectrogram blocks -> (B, 512) embeddings."""
        x = batch.astype(np.float32)[..., None]  # channels last
        for i, (w, scale, shift) in enumerate(self.layers):
            x = np.maximum(self._conv3x3(x, w) * scale + shift, 0)
            if i % 2 == 1 and i < 6:  # 2x2 max pooling after blocks 1-3 (floor, as torch)
                b, h, wd, c = x.shape
                x = x[:, : h // 2 * 2, : wd // 2 * 2].reshape(b, h // 2, 2, wd // 2, 2, c).max(axis=(2, 4))
        return x.mean(axis=2).max(axis=1)  # mean over frequency, max over time


@cache
def load_net() -> AisfxNet:
    return AisfxNet()


def embed(segments: list[np.ndarray], stride: int = 1) -> np.ndarray:
    """(n, 512) embeddings of 44.1 kHz segments (every ``stride``-th non-overlapping block, batched)."""
    return load_net().forward(np.concatenate([blocks(log_mel(y), hop=BLOCK) for y in segments])[::stride])


class AisfxAnalyzer(Analyzer):
    """aiSFX embedding, mean over ~2.3-s blocks (weights CC BY 4.0, see README credits)."""

    name = "aisfx"
    version = 1
    view = "sound"
    dim = 512
    sample_rate = SR
    normalization = "standardize"

    def ensure_ready(self) -> None:
        weights_path()

    def analyze(self, audio: DecodedAudio) -> np.ndarray:
        return embed(audio.at(SR)).mean(axis=0)
