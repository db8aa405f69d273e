"""Distortions for query-by-example: what happens to audio between the file and the query."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, fftconvolve, sosfilt

from tonearm.audio.decode import load, resample

DISTORTIONS = ("clean", "noise_10db", "noise_0db", "mp3_32k", "speed_1.05", "speed_0.95", "pitch_+1", "phone_reverb")


def _noise(y: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    n = rng.standard_normal(y.size)
    n *= np.sqrt(np.mean(y**2) / (10 ** (snr_db / 10)) / np.mean(n**2))
    return y + n


def _mp3(y: np.ndarray, sr: int, kbps: int) -> np.ndarray:
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        raise RuntimeError("ffmpeg is needed for the mp3 distortion")
    with tempfile.TemporaryDirectory() as d:
        src, dst = Path(d) / "in.wav", Path(d) / "out.mp3"
        sf.write(str(src), y, sr)
        subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-i", str(src), "-b:a", f"{kbps}k", str(dst)], check=True)
        return load(dst, sr)[: y.size]


def _phone_reverb(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.4 * sr)) / sr
    ir = rng.standard_normal(t.size) * np.exp(-t / 0.08)
    ir[0] = 1.0
    wet = fftconvolve(y, ir)[: y.size]
    sos = butter(4, [300, 3400], btype="bandpass", fs=sr, output="sos")
    return sosfilt(sos, wet)


def apply(name: str, y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``y`` distorted by ``name`` (one of DISTORTIONS), peak-normalised."""
    if name == "clean":
        out = y
    elif name.startswith("noise_"):
        out = _noise(y, float(name[6:-2]), rng)
    elif name == "mp3_32k":
        out = _mp3(y, sr, 32)
    elif name.startswith("speed_"):
        factor = float(name[6:])  # faster playback: pitch and tempo both rise
        out = resample(y.astype(np.float32), round(sr * factor), sr)
    elif name == "pitch_+1":
        import librosa

        out = librosa.effects.pitch_shift(y, sr=sr, n_steps=1.0)
    elif name == "phone_reverb":
        out = _phone_reverb(y, sr, rng)
    else:
        raise ValueError(f"unknown distortion {name}")
    out = np.asarray(out, dtype=np.float32)
    return (0.9 * out / (np.max(np.abs(out)) + 1e-9)).astype(np.float32)
