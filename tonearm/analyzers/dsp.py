"""Sound view v1: timbre, harmony, rhythm and loudness statistics from one STFT.

Every frame-level feature is derived from a single magnitude spectrogram per segment
(22.05 kHz, 2048-point FFT, hop 512), which keeps the analyzer far faster than realtime.
The track vector is the mean and spread of each feature over all frames of all analysed
windows, plus tempo and pulse-clarity summaries. Scales differ wildly between features, so
the view is standardised over the library before cosine search (``normalization``).
"""

from __future__ import annotations

from functools import cache

import librosa
import numpy as np

from tonearm.analyzers.base import Analyzer
from tonearm.audio.segments import DecodedAudio

_SR = 22050
_N_FFT = 2048
_HOP = 512
_N_MFCC = 20
_N_MELS = 64
_EPS = 1e-10

# Layout of the vector, so reports and debugging can name each block.
BLOCKS: tuple[tuple[str, int], ...] = (
    ("mfcc_mean", _N_MFCC),
    ("mfcc_std", _N_MFCC),
    ("mfcc_delta_std", _N_MFCC),
    ("contrast_mean", 7),
    ("contrast_std", 7),
    ("chroma_mean", 12),
    ("chroma_std", 12),
    ("tonnetz_mean", 6),
    ("tonnetz_std", 6),
    ("spectral_mean", 5),
    ("spectral_std", 5),
    ("loudness", 3),
    ("rhythm", 4),
)
DIM = sum(n for _, n in BLOCKS)


def _frame_features(y: np.ndarray, mel_fb: np.ndarray) -> dict[str, np.ndarray] | None:
    if y.size < _N_FFT:
        y = np.pad(y, (0, _N_FFT - y.size))
    S = np.abs(librosa.stft(y, n_fft=_N_FFT, hop_length=_HOP, center=True)).astype(np.float32)
    power = S**2
    log_mel = librosa.power_to_db(mel_fb @ power, ref=1.0, amin=_EPS, top_db=None)
    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=_N_MFCC)
    contrast = librosa.feature.spectral_contrast(S=S, sr=_SR, n_fft=_N_FFT, hop_length=_HOP)
    chroma = librosa.feature.chroma_stft(S=power, sr=_SR, n_fft=_N_FFT, hop_length=_HOP, tuning=0.0)
    tonnetz = librosa.feature.tonnetz(chroma=chroma, sr=_SR)
    freqs = librosa.fft_frequencies(sr=_SR, n_fft=_N_FFT)
    total = S.sum(axis=0) + _EPS
    centroid = (freqs[:, None] * S).sum(axis=0) / total
    bandwidth = np.sqrt(((freqs[:, None] - centroid[None, :]) ** 2 * S).sum(axis=0) / total)
    cumulative = np.cumsum(S, axis=0)
    rolloff = freqs[np.argmax(cumulative >= 0.85 * cumulative[-1:, :], axis=0)]
    flatness = np.exp(np.mean(np.log(power + _EPS), axis=0)) / (np.mean(power, axis=0) + _EPS)
    zcr = zero_crossing_rate(y)
    n = min(S.shape[1], zcr.size)
    spectral = np.vstack(
        [
            np.log1p(centroid[:n]),
            np.log1p(bandwidth[:n]),
            np.log1p(rolloff[:n]),
            np.log(flatness[:n] + _EPS),
            zcr[:n],
        ]
    )
    rms_db = 10 * np.log10(np.mean(power, axis=0) + _EPS)
    onset = librosa.onset.onset_strength(S=log_mel, sr=_SR, hop_length=_HOP)
    return {
        "mfcc": mfcc,
        "mfcc_delta": librosa.feature.delta(mfcc, width=min(9, mfcc.shape[1] | 1 if mfcc.shape[1] >= 3 else 3))
        if mfcc.shape[1] >= 3
        else np.zeros_like(mfcc),
        "contrast": contrast,
        "chroma": chroma,
        "tonnetz": tonnetz,
        "spectral": spectral,
        "rms_db": rms_db,
        "onset": onset,
    }


def zero_crossing_rate(y: np.ndarray, frame: int = _N_FFT, hop: int = _HOP, threshold: float = 1e-10) -> np.ndarray:
    """Per-frame zero-crossing rate, the same numbers as ``librosa.feature.zero_crossing_rate``.

    librosa's defaults (centred edge-padded frames, samples within ``threshold`` of zero count as
    positive, a frame's first sample starts no crossing), computed as one pass of sign changes and a
    cumulative sum instead of a check per sample per frame (the four frames over each sample).
    """
    y = np.pad(y, frame // 2, mode="edge")
    negative = y < -threshold  # librosa's test: sign bit set and magnitude above the threshold
    crossings = np.zeros(y.size, np.int32)
    np.cumsum(negative[1:] != negative[:-1], out=crossings[1:])
    starts = np.arange(1 + (y.size - frame) // hop) * hop
    return (crossings[starts + frame - 1] - crossings[starts]) / frame


def _rhythm(onset: np.ndarray) -> tuple[float, float]:
    """Tempo (log2 BPM) and pulse clarity (peak of the normalised onset autocorrelation)."""
    if onset.size < 16 or not np.any(onset > 0):
        return float(np.log2(120.0)), 0.0
    tempo = librosa.feature.tempo(onset_envelope=onset, sr=_SR, hop_length=_HOP, aggregate=np.median)
    bpm = float(np.clip(tempo[0] if np.size(tempo) else 120.0, 30.0, 300.0))
    x = onset - onset.mean()
    ac = np.correlate(x, x, mode="full")[x.size - 1 :]
    ac = ac / (ac[0] + _EPS)
    lo, hi = int(60 * _SR / _HOP / 300), int(60 * _SR / _HOP / 30)
    clarity = float(np.max(ac[lo : min(hi, ac.size)])) if ac.size > lo + 1 else 0.0
    return float(np.log2(bpm)), clarity


@cache
def _mel_filters() -> np.ndarray:
    """Made on the first analysis, not with the analyzer: ``librosa.filters`` imports ``scipy.signal`` (a
    second), which a process that only reads an analyzer's name and size (a query, the index run's
    main process) should not pay."""
    return librosa.filters.mel(sr=_SR, n_fft=_N_FFT, n_mels=_N_MELS).astype(np.float32)


class DspSoundAnalyzer(Analyzer):
    """Hand-made sound descriptors (MFCC, contrast, chroma, tonnetz, spectral shape, loudness, tempo)."""

    name = "dsp"
    version = 1
    view = "sound"
    dim = DIM
    sample_rate = _SR
    normalization = "standardize"

    def analyze(self, audio: DecodedAudio) -> np.ndarray:
        frames = [_frame_features(y, _mel_filters()) for y in audio.at(self.sample_rate)]
        cat = {k: np.concatenate([f[k] for f in frames], axis=-1) for k in frames[0]}
        rhythms = np.array([_rhythm(f["onset"]) for f in frames])
        rms = cat["rms_db"]
        loud = [float(np.mean(rms)), float(np.std(rms)), float(np.percentile(rms, 95) - np.percentile(rms, 5))]
        onset = cat["onset"]
        rhythm = [
            float(np.median(rhythms[:, 0])),
            float(np.median(rhythms[:, 1])),
            float(np.log1p(np.mean(onset))),
            float(np.log1p(np.std(onset))),
        ]
        parts = [
            cat["mfcc"].mean(1), cat["mfcc"].std(1), cat["mfcc_delta"].std(1),
            cat["contrast"].mean(1), cat["contrast"].std(1),
            cat["chroma"].mean(1), cat["chroma"].std(1),
            cat["tonnetz"].mean(1), cat["tonnetz"].std(1),
            cat["spectral"].mean(1), cat["spectral"].std(1),
            loud, rhythm,
        ]  # fmt: skip
        vec = np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in parts])
        return np.nan_to_num(vec, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
