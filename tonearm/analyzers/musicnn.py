"""musicnn (Pons & Serra) in numpy: music-trained embeddings and 50 tags, without TensorFlow.

The weights are the TensorFlow-1 checkpoints shipped in the ``musicnn==0.1.0`` wheel (ISC;
``pip install --no-deps musicnn==0.1.0``); they are read with our own checkpoint reader and the
network is re-implemented layer by layer (see ``tests/test_musicnn_parity.py`` for the parity
check against TensorFlow). One deliberate difference from the original extractor: the mel
spectrogram stays float32 — the original casts it to float16, which overflows to ``inf`` on
loud input and makes every loud clip look the same.

Architecture (MSD_musicnn / MTT_musicnn): batch-normalised log-mel input (187 frames x 96
bands, 3 s at 16 kHz) -> front-end of two timbral convolutions (7x38, 7x67; 204 filters) and
three temporal ones (128x1, 64x1, 32x1; 51 filters), each max-pooled over frequency -> mid-end
of three 7-frame convolutions (64 filters) with residual connections -> back-end: max and mean
over time, dense 200 ("penultimate", the embedding) and dense 50 + sigmoid (tag probabilities).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import librosa
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tonearm.analyzers.base import Analysis, Analyzer
from tonearm.audio.segments import DecodedAudio
from tonearm.errors import TonearmError

SR = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
N_FRAMES = 187  # 3 s patches, as trained
_BN_EPS = 1e-3

MSD_LABELS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock",
    "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow",
    "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient",
    "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country", "easy listening",
    "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad",
    "House", "happy",
)  # fmt: skip
MTT_LABELS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano", "ambient",
    "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing", "vocals", "no vocals",
    "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man",
    "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello",
    "no voice", "weird", "country", "metal", "female voice", "choral",
)  # fmt: skip


def weights_dir(model: str = "MSD_musicnn") -> Path:
    """Folder of a musicnn checkpoint inside the installed ``musicnn`` wheel (never imported)."""
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise TonearmError(
            "the musicnn weights are not installed: pip install --no-deps musicnn==0.1.0 "
            "(tonearm reads the checkpoint itself; TensorFlow is not needed)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / model
    if not (folder / ".index").is_file():
        raise TonearmError(f"musicnn checkpoint {model} missing from {folder.parent}")
    return folder


def log_mel(y: np.ndarray) -> np.ndarray:
    """(frames, 96) log-compressed mel spectrogram at 16 kHz, float32 throughout."""
    mel = librosa.feature.melspectrogram(y=y, sr=SR, hop_length=HOP, n_fft=N_FFT, n_mels=N_MELS).T
    return np.log10(10000.0 * mel.astype(np.float32) + 1.0).astype(np.float32)


def patches(mel: np.ndarray, hop: int = N_FRAMES) -> np.ndarray:
    """Cut (frames, 96) into (n, 187, 96) patches; a short input is repeat-padded to one patch."""
    if mel.shape[0] < N_FRAMES:
        reps = int(np.ceil(N_FRAMES / max(1, mel.shape[0])))
        mel = np.tile(mel, (reps, 1))[:N_FRAMES] if mel.shape[0] else np.zeros((N_FRAMES, N_MELS), np.float32)
    starts = range(0, mel.shape[0] - N_FRAMES + 1, hop)
    return np.stack([mel[s : s + N_FRAMES] for s in starts])


@dataclass
class _BN:
    scale: np.ndarray
    shift: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x * self.scale + self.shift


class MusicnnNet:
    """The forward pass of a musicnn checkpoint (inference mode)."""

    def __init__(self, model: str = "MSD_musicnn") -> None:
        from tonearm.analyzers.weights.tf_checkpoint import read_checkpoint

        self.model = model
        self.labels = MSD_LABELS if model.startswith("MSD") else MTT_LABELS
        w = read_checkpoint(str(weights_dir(model)) + "/")

        def bn(name: str) -> _BN:
            scale = w[f"{name}/gamma"] / np.sqrt(w[f"{name}/moving_variance"] + _BN_EPS)
            return _BN(
                scale.astype(np.float32), (w[f"{name}/beta"] - w[f"{name}/moving_mean"] * scale).astype(np.float32)
            )

        self.bn = [bn("batch_normalization" + ("" if i == 0 else f"_{i}")) for i in range(11)]
        self.conv = [
            (w["conv2d" + ("" if i == 0 else f"_{i}") + "/kernel"], w["conv2d" + ("" if i == 0 else f"_{i}") + "/bias"])
            for i in range(8)
        ]
        self.dense = [(w["dense/kernel"], w["dense/bias"]), (w["dense_1/kernel"], w["dense_1/bias"])]

    @staticmethod
    def _conv2d_single_channel(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """Valid 2-D convolution of (B, T, F) with kernel (kt, kf, 1, C) -> (B, T', F', C), via im2col."""
        kt, kf, _, c = kernel.shape
        cols = sliding_window_view(x, (kt, kf), axis=(1, 2))  # (B, T', F', kt, kf)
        b, t, f = cols.shape[:3]
        out = cols.reshape(b * t * f, kt * kf) @ kernel.reshape(kt * kf, c)
        return (out + bias).reshape(b, t, f, c)

    def _timbral(self, x: np.ndarray, i: int) -> np.ndarray:
        xp = np.pad(x, ((0, 0), (3, 3), (0, 0)))
        y = np.maximum(self._conv2d_single_channel(xp, *self.conv[i]), 0)
        return self.bn[i + 1](y).max(axis=2)  # pool over all frequencies

    def _temporal(self, x: np.ndarray, i: int) -> np.ndarray:
        k = self.conv[i][0].shape[0]
        xp = np.pad(x, ((0, 0), ((k - 1) // 2, k // 2), (0, 0)))  # TensorFlow's "same"
        y = np.maximum(self._conv2d_single_channel(xp, *self.conv[i]), 0)
        return self.bn[i + 1](y).max(axis=2)

    def _midend_conv(self, x: np.ndarray, i: int, bn: int) -> np.ndarray:
        """7-frame convolution spanning all channels of (B, T, C_in) -> (B, T, 64)."""
        kernel, bias = self.conv[i]
        xp = np.pad(x, ((0, 0), (3, 3), (0, 0)))
        cols = sliding_window_view(xp, 7, axis=1)  # (B, T, C_in, 7)
        b, t, c_in, _ = cols.shape
        out = cols.transpose(0, 1, 3, 2).reshape(b * t, 7 * c_in) @ kernel.reshape(7 * c_in, -1)
        return self.bn[bn](np.maximum(out + bias, 0)).reshape(b, t, -1)

    def forward(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """(B, 187, 96) log-mel patches -> taggram (B, 50), penultimate (B, 200), pools (B, 753)."""
        x = self.bn[0](batch.astype(np.float32))
        front = np.concatenate(
            [
                self._timbral(x, 0),
                self._timbral(x, 1),
                self._temporal(x, 2),
                self._temporal(x, 3),
                self._temporal(x, 4),
            ],
            axis=2,
        )  # (B, T, 561)
        c1 = self._midend_conv(front, 5, 6)
        c2 = self._midend_conv(c1, 6, 7) + c1
        c3 = self._midend_conv(c2, 7, 8) + c2
        feats = np.concatenate([front, c1, c2, c3], axis=2)  # (B, T, 753)
        max_pool, mean_pool = feats.max(axis=1), feats.mean(axis=1)
        flat = np.stack([max_pool, mean_pool], axis=2).reshape(batch.shape[0], -1)  # interleaved, as TF flattens
        flat = self.bn[9](flat)
        (k1, b1), (k2, b2) = self.dense
        penultimate = self.bn[10](np.maximum(flat @ k1 + b1, 0))
        logits = penultimate @ k2 + b2
        return {
            "taggram": 1.0 / (1.0 + np.exp(-logits)),
            "penultimate": penultimate,
            "mean_pool": mean_pool,
            "max_pool": max_pool,
        }


@cache
def load_net(model: str = "MSD_musicnn") -> MusicnnNet:
    return MusicnnNet(model)


def tag_field(label: str) -> str:
    """Column name of a tag probability: ``tag_female_vocalists``, ``tag_hip_hop``."""
    return "tag_" + "".join(c if c.isalnum() else "_" for c in label.lower()).strip("_")


TAG_FIELDS = tuple(dict.fromkeys(tag_field(label) for label in MSD_LABELS))
# MagnaTagATune tags the MSD model lacks: instruments (flute, violin, piano, harpsichord, choir,
# strings...), tempo and loudness (fast, slow, quiet, loud), voice (no vocals, male voice...).
MTT_ONLY = tuple(label for label in MTT_LABELS if tag_field(label) not in TAG_FIELDS)
MTT_TAG_FIELDS = tuple(dict.fromkeys(tag_field(label) for label in MTT_ONLY))
ALL_TAG_LABELS = MSD_LABELS + MTT_ONLY


def mel_patches(segments: list[np.ndarray]) -> np.ndarray:
    """The 3-s log-mel patches of 16 kHz segments, batched (shared by the MSD and MTT models)."""
    return np.concatenate([patches(log_mel(y)) for y in segments])


def embed(segments: list[np.ndarray], model: str = "MSD_musicnn", stride: int = 1) -> dict[str, np.ndarray]:
    """Per-patch outputs for 16 kHz segments (every ``stride``-th 3-s patch), batched together."""
    return load_net(model).forward(mel_patches(segments)[::stride])


class MusicnnAnalyzer(Analyzer):
    """musicnn (MSD) embedding, mean over 3-s patches; its 50 tag probabilities become ``tag_*`` fields."""

    name = "musicnn"
    version = 1
    view = "sound"
    dim = 200
    sample_rate = SR
    normalization = "standardize"
    extra_fields = TAG_FIELDS

    def ensure_ready(self) -> None:
        weights_dir("MSD_musicnn")

    def analyze(self, audio: DecodedAudio) -> Analysis:
        out = embed(audio.at(SR))
        return Analysis(out["penultimate"].mean(axis=0), tag_fields(out["taggram"]))


def tag_fields(taggram: np.ndarray, mtt_taggram: np.ndarray | None = None) -> dict[str, float]:
    """Mean tag probabilities over patches, rounded, keyed by column name (MSD, plus MTT-only tags if given)."""
    probs = taggram.mean(axis=0)
    out = {tag_field(label): round(float(p), 4) for label, p in zip(MSD_LABELS, probs, strict=True)}
    if mtt_taggram is not None:
        mtt = dict(zip(MTT_LABELS, mtt_taggram.mean(axis=0), strict=True))
        out.update({tag_field(label): round(float(mtt[label]), 4) for label in MTT_ONLY})
    return out
