"""VGGish (Hershey et al., 2017): 128-d AudioSet embeddings per 0.96 s, from weights you supply.

``tonearm index --views sound=vggish --model-path vggish=~/models/vggish-10086976.pth``. Needs
the ``torch`` extra. The weights are the PyTorch port's state dict (``features.*`` and
``embeddings.*``); a PCA file beside it (a name containing ``pca``: ``.pth`` with
``pca_eigen_vectors``/``pca_means``, or the original ``.npz``) is applied when present, as the
published embeddings are (without their 8-bit quantisation).

The front end follows the original's definition: 16 kHz, 25-ms periodic-Hann frames every
10 ms, magnitude spectrum, 64 mel bands (HTK scale, 125-7500 Hz, triangles drawn in mel
space), log(mel + 0.01), examples of 96 frames without overlap. The network is VGG-A-like:
conv64-pool-conv128-pool-conv256×2-pool-conv512×2-pool, flattened in TensorFlow's
channel-last order, then 4096-4096-128 fully connected (ReLU except on the last layer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tonearm.analyzers.external import ExternalModelAnalyzer, import_torch
from tonearm.audio.segments import DecodedAudio
from tonearm.errors import TonearmError

SR = 16000
WIN = 400
HOP = 160
N_FFT = 512
N_MELS = 64
FMIN, FMAX = 125.0, 7500.0
EXAMPLE_FRAMES = 96
EMBED_DIM = 128
_LOG_OFFSET = 0.01
# (Sequential index, in, out) of the convolutions; ReLUs and poolings sit between them.
_CONVS = ((0, 1, 64), (3, 64, 128), (6, 128, 256), (8, 256, 256), (11, 256, 512), (13, 512, 512))
_POOL_AFTER = {0, 3, 8, 13}
_FCS = ((0, 512 * 4 * 6, 4096), (2, 4096, 4096), (4, 4096, EMBED_DIM))


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(f / 700.0)


def mel_matrix() -> np.ndarray:
    """(257, 64) weights from spectrum bins to VGGish's mel bands."""
    bins_mel = _hz_to_mel(np.linspace(0.0, SR / 2, N_FFT // 2 + 1))
    edges = np.linspace(_hz_to_mel(np.array(FMIN)), _hz_to_mel(np.array(FMAX)), N_MELS + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (centre - lower)
    falling = (upper - bins_mel[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0  # the DC bin contributes to no band
    return weights


_MEL = mel_matrix()
_WINDOW = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WIN) / WIN)  # periodic Hann


def examples(y: np.ndarray) -> np.ndarray:
    """(n, 96, 64) log-mel examples of 0.96 s; audio shorter than one is zero-padded to one."""
    need = WIN + HOP * (EXAMPLE_FRAMES - 1)
    if len(y) < need:
        y = np.pad(y, (0, need - len(y)))
    frames = sliding_window_view(y.astype(np.float64), WIN)[::HOP] * _WINDOW
    spec = np.abs(np.fft.rfft(frames, N_FFT))
    logmel = np.log(spec @ _MEL + _LOG_OFFSET).astype(np.float32)
    n = len(logmel) // EXAMPLE_FRAMES
    return logmel[: n * EXAMPLE_FRAMES].reshape(n, EXAMPLE_FRAMES, N_MELS)


def build_vggish(torch: Any) -> Any:
    """The VGGish module, with parameter names matching the PyTorch port's state dict."""
    nn = torch.nn
    layers: list[Any] = []
    for idx, cin, cout in _CONVS:
        assert len(layers) == idx  # Sequential indices are the published parameter names
        layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]
        if idx in _POOL_AFTER:
            layers.append(nn.MaxPool2d(2, 2))
    fcs: list[Any] = []
    for idx, cin, cout in _FCS:
        fcs += [nn.Linear(cin, cout)] + ([nn.ReLU()] if idx < _FCS[-1][0] else [])

    class VGGish(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(*layers)
            self.embeddings = nn.Sequential(*fcs)

        def forward(self, x: Any) -> Any:  # x: (n, 96, 64)
            x = self.features(x.unsqueeze(1))  # (n, 512, 6, 4)
            x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # TensorFlow's channel-last flatten
            return self.embeddings(x)

    return VGGish()


def _load_pca(folder: Path, torch: Any) -> tuple[np.ndarray, np.ndarray] | None:
    for f in sorted(folder.iterdir()):
        if "pca" not in f.name.lower():
            continue
        if f.suffix == ".npz":
            data = dict(np.load(f))
        else:
            data = {k: v.numpy() for k, v in torch.load(str(f), map_location="cpu", weights_only=True).items()}
        vecs, means = np.asarray(data["pca_eigen_vectors"]), np.asarray(data["pca_means"]).reshape(-1)
        if vecs.shape != (EMBED_DIM, EMBED_DIM) or means.shape != (EMBED_DIM,):
            raise TonearmError(f"{f}: PCA parameters of shape {vecs.shape}/{means.shape}, expected 128x128/128")
        return vecs.astype(np.float32), means.astype(np.float32)
    return None


class VggishAnalyzer(ExternalModelAnalyzer):
    """VGGish embedding (128-d, PCA-whitened when the PCA file is given), mean over 0.96-s examples."""

    name = "vggish"
    version = 1
    view = "sound"
    dim = EMBED_DIM
    sample_rate = SR
    normalization = "standardize"  # post-ReLU/PCA coordinates are far from zero-centred
    expects = "the VGGish PyTorch state dict, e.g. vggish-10086976.pth (+ optional vggish_pca_params file)"

    def load(self, path: Path) -> Any:
        torch = import_torch()
        return self.load_state_into(path, build_vggish(torch), "VGGish state dict"), _load_pca(path.parent, torch)

    def analyze(self, audio: DecodedAudio) -> np.ndarray:
        torch = import_torch()
        net, pca = self.model()
        batch = np.concatenate([examples(y) for y in audio.at(SR)])
        with torch.inference_mode():
            emb = np.concatenate(
                [net(torch.from_numpy(b)).numpy() for b in np.array_split(batch, max(1, len(batch) // 64))]
            )
        if pca is not None:
            vecs, means = pca
            emb = (emb - means) @ vecs.T
        return self.finite(emb.mean(axis=0))
