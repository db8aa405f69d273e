"""aiSFX embeddings without torch: a 9-layer CNN trained on sound-effect libraries, run by onnxruntime.

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

from tonearm.analyzers.base import Analyzer
from tonearm.audio import spectrum
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


@cache
def _mel_basis() -> np.ndarray:
    """The authors' filter bank: 96 HTK mel bands over 0-22 kHz, each of unit area."""
    return librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS, norm=1.0, fmin=0.0, fmax=SR / 2, htk=True)


def log_mel(y: np.ndarray) -> np.ndarray:
    """(frames, 96) normalised log-mel spectrogram, as the authors compute it (time first)."""
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    y = y / peak if peak > 0 else y
    mel = _mel_basis() @ spectrum.power(y, N_FFT, HOP)
    return (np.log10(mel * 10000.0 + 1.0) / _SPEC_MAX).T.astype(np.float32)


def blocks(spec: np.ndarray, hop: int = BLOCK // 2) -> np.ndarray:
    """(n, 100, 96) blocks with 50% overlap; a short input is zero-padded to one block."""
    if spec.shape[0] < BLOCK:
        spec = np.vstack([spec, np.zeros((BLOCK - spec.shape[0], spec.shape[1]), np.float32)])
    starts = range(0, spec.shape[0] - BLOCK + 1, hop)
    return np.stack([spec[s : s + BLOCK] for s in starts])


class AisfxNet:
    """Forward pass of the aiSFX embedding network (inference mode), as an onnxruntime graph."""

    def __init__(self) -> None:
        from tonearm.analyzers.weights import torch_checkpoint
        from tonearm.analyzers.weights.onnx_graph import cached_session

        sources = (Path(__file__), Path(torch_checkpoint.__file__))
        self._session = cached_session("aisfx", weights_path(), sources, build_graph)

    def forward(self, batch: np.ndarray) -> np.ndarray:
        """(B, 100, 96) spectrogram blocks -> (B, 512) embeddings."""
        return self._session.run(None, {"spec": np.ascontiguousarray(batch, dtype=np.float32)})[0]


def build_graph() -> bytes:
    """The network as a serialized ONNX graph, batch norm folded into the convolutions."""
    from tonearm.analyzers.weights.onnx_graph import GraphBuilder
    from tonearm.analyzers.weights.torch_checkpoint import read_torch_checkpoint

    state, _datasets = read_torch_checkpoint(weights_path())
    g = GraphBuilder("aisfx")
    x = g.op("Unsqueeze", "spec", g.ints([1]))  # (B, 1, time, mel): one input channel
    for b in range(1, 5):
        for c in (1, 2):
            pre = f"embedding_net.conv_block{b}"
            kernel = state[f"{pre}.conv{c}.weight"]  # (out, in, 3, 3), no bias
            gamma, beta = state[f"{pre}.bn{c}.weight"], state[f"{pre}.bn{c}.bias"]
            mean, var = state[f"{pre}.bn{c}.running_mean"], state[f"{pre}.bn{c}.running_var"]
            scale = gamma / np.sqrt(var + _BN_EPS)
            # batch norm folded into the convolution: it comes before the ReLU
            w, bias = kernel * scale[:, None, None, None], beta - mean * scale
            x = g.op("Relu", g.op("Conv", x, g.const(w), g.const(bias), pads=[1, 1, 1, 1]))
        if b < 4:  # 2x2 max pooling after blocks 1-3 (floor, as torch)
            x = g.op("MaxPool", x, kernel_shape=[2, 2], strides=[2, 2])
    freq_mean = g.op("ReduceMean", x, axes=[3], keepdims=0)
    g.op("ReduceMax", freq_mean, axes=[2], keepdims=0, out="embedding")  # max over time
    return g.serialize({"spec": [None, BLOCK, N_MELS]}, {"embedding": [None, 512]})


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
