"""PANNs CNN14 (Kong et al., 2020): a 2048-d AudioSet embedding from a checkpoint you supply.

``tonearm index --views sound=panns --model-path panns=~/models/Cnn14_mAP=0.431.pth``. Needs
the ``torch`` extra. The checkpoint is the authors' file (a dict whose ``model`` entry is the
state dict; a bare state dict works too). The network is rebuilt here from the paper's
description: a 64-band log-mel spectrogram at 32 kHz (1024-sample window, 320 hop, 50 Hz -
14 kHz), batch-normalised per band, six blocks of two 3x3 convolutions (64 ... 2048 channels)
with 2x2 average pooling, then mean over frequency, max + mean over time, and a 2048-unit
ReLU layer: its output is the embedding (the 527 AudioSet outputs are not used). The STFT and
mel layers stored in the checkpoint are recomputed in numpy (same filters: librosa's Slaney
mel, power spectrogram, 10·log10).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import librosa
import numpy as np

from tonearm.analyzers.external import ExternalModelAnalyzer, chunks, import_torch
from tonearm.audio.segments import DecodedAudio

SR = 32000
N_FFT = 1024
HOP = 320
N_MELS = 64
FMIN, FMAX = 50.0, 14000.0
CHANNELS = (64, 128, 256, 512, 1024, 2048)
EMBED_DIM = 2048
CLIP_SECONDS = 10.0  # the length the network was trained on; longer windows are cut into clips


def log_mel(y: np.ndarray) -> np.ndarray:
    """(frames, 64) log-mel power spectrogram as CNN14 expects it."""
    spec = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, window="hann", center=True, pad_mode="reflect")) ** 2
    mel = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX) @ spec
    return (10.0 * np.log10(np.maximum(mel, 1e-10))).T.astype(np.float32)


def build_cnn14(torch: Any) -> Any:
    """The CNN14 module, with parameter names matching the published checkpoints."""
    nn, F = torch.nn, torch.nn.functional

    class ConvBlock(nn.Module):
        def __init__(self, cin: int, cout: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.bn2 = nn.BatchNorm2d(cout)

        def forward(self, x: Any, pool: tuple[int, int]) -> Any:
            x = F.relu(self.bn1(self.conv1(x)))
            x = F.relu(self.bn2(self.conv2(x)))
            return F.avg_pool2d(x, pool) if pool != (1, 1) else x

    class Cnn14(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bn0 = nn.BatchNorm2d(N_MELS)
            cins = (1, *CHANNELS[:-1])
            for i, (cin, cout) in enumerate(zip(cins, CHANNELS, strict=True), 1):
                setattr(self, f"conv_block{i}", ConvBlock(cin, cout))
            self.fc1 = nn.Linear(EMBED_DIM, EMBED_DIM)
            self.fc_audioset = nn.Linear(EMBED_DIM, 527)

        def forward(self, mel: Any) -> Any:  # mel: (batch, frames, 64)
            x = mel.unsqueeze(1).transpose(1, 3)  # bands as channels for bn0
            x = self.bn0(x).transpose(1, 3)  # (batch, 1, frames, 64)
            for i in range(1, 7):
                x = getattr(self, f"conv_block{i}")(x, (2, 2) if i < 6 else (1, 1))
            x = x.mean(dim=3)  # over frequency
            x = x.max(dim=2).values + x.mean(dim=2)  # over time
            return F.relu(self.fc1(x))

    return Cnn14()


class PannsAnalyzer(ExternalModelAnalyzer):
    """PANNs CNN14 embedding (2048-d), mean over ≤10-s clips of the analysed windows."""

    name = "panns"
    version = 1
    view = "sound"
    dim = EMBED_DIM
    sample_rate = SR
    expects = "a PANNs CNN14 checkpoint, e.g. Cnn14_mAP=0.431.pth"

    def load(self, path: Path) -> Any:
        return self.load_state_into(path, build_cnn14(import_torch()), "CNN14 checkpoint")

    def analyze(self, audio: DecodedAudio) -> np.ndarray:
        torch = import_torch()
        net = self.model()
        clips = [c for y in audio.at(SR) for c in chunks(y, SR, CLIP_SECONDS)]
        embeddings, weights = [], []
        with torch.inference_mode():
            for clip in clips:
                if len(clip) < N_FFT:
                    clip = np.pad(clip, (0, N_FFT - len(clip)))
                mel = torch.from_numpy(log_mel(clip))[None]
                if mel.shape[1] < 32:  # five 2x2 poolings need at least 32 frames
                    mel = torch.nn.functional.pad(mel, (0, 0, 0, 32 - mel.shape[1]))
                embeddings.append(net(mel)[0].numpy())
                weights.append(len(clip))
        return self.finite(np.average(np.stack(embeddings), axis=0, weights=weights))
