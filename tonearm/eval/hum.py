"""A humming synthesizer that makes the mistakes people make.

Real hummed queries are transposed to the singer's range, sung at their own tempo, with
per-note intonation errors, slow pitch drift, vibrato, sloppy timing, glides between notes,
breaths and a noisy room. This renders a melody that way (a glottal-like harmonic source
through vowel formants), deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from tonearm.eval.symbolic import Note

_VOWELS = {"u": (320, 800, 2500), "a": (700, 1200, 2600), "m": (250, 1000, 2200)}


@dataclass(frozen=True)
class HumStyle:
    """The imperfections of one simulated singer and room."""

    transpose: int
    tempo: float
    intonation_sd: float  # semitones, per note
    drift_sd: float  # semitones per second of random walk
    vibrato_hz: float
    vibrato_depth: float  # semitones
    timing_jitter: float  # fraction of note length
    vowel: str
    snr_db: float


def random_style(rng: np.random.Generator) -> HumStyle:
    return HumStyle(
        transpose=int(rng.integers(-12, 3)),
        tempo=float(rng.uniform(0.75, 1.2)),
        intonation_sd=float(rng.uniform(0.1, 0.35)),
        drift_sd=float(rng.uniform(0.05, 0.2)),
        vibrato_hz=float(rng.uniform(4.5, 6.5)),
        vibrato_depth=float(rng.uniform(0.1, 0.4)),
        timing_jitter=float(rng.uniform(0.05, 0.2)),
        vowel=str(rng.choice(list(_VOWELS))),
        snr_db=float(rng.uniform(5, 25)),
    )


def _formant_filter(x: np.ndarray, sr: int, freqs: tuple[int, ...]) -> np.ndarray:
    out = np.zeros_like(x)
    for f, bw in zip(freqs, (80, 120, 160), strict=False):
        r = np.exp(-np.pi * bw / sr)
        theta = 2 * np.pi * f / sr
        out += lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], x)
    return out


def hum(notes: list[Note], bpm: float, style: HumStyle, rng: np.random.Generator, sr: int = 16000) -> np.ndarray:
    """Render ``notes`` (quarter-note units at ``bpm``) as a hummed query at ``sr``."""
    spq = 60.0 / (bpm * style.tempo)
    t0 = notes[0][0]
    # Centre the tune in a comfortable humming range, then apply the singer's transposition.
    centre = np.median([p for _, _, p in notes])
    shift = round(57 - centre) + style.transpose
    total = (notes[-1][0] + notes[-1][1] - t0) * spq + 0.6
    n = int(total * sr)
    pitch = np.full(n, np.nan)
    amp = np.zeros(n)
    for onset, dur, p in notes:
        jitter = 1 + rng.normal(0, style.timing_jitter)
        start = int(((onset - t0) * spq + 0.3) * sr)
        length = max(int(dur * spq * jitter * sr * 0.92), int(0.06 * sr))
        end = min(n, start + length)
        if end <= start:
            continue
        pitch[start:end] = p + shift + rng.normal(0, style.intonation_sd)
        env = np.ones(end - start)
        ramp = min(int(0.03 * sr), (end - start) // 3)
        if ramp > 0:
            env[:ramp] = np.linspace(0, 1, ramp)
            env[-ramp:] = np.linspace(1, 0, ramp)
        amp[start:end] = np.maximum(amp[start:end], env * rng.uniform(0.7, 1.0))
    # Glide through the gaps (portamento), then add drift and vibrato.
    idx = np.arange(n)
    known = ~np.isnan(pitch)
    pitch = np.interp(idx, idx[known], pitch[known]) if known.any() else np.full(n, 57.0)
    drift = np.cumsum(rng.normal(0, style.drift_sd / np.sqrt(sr), n))
    t = idx / sr
    pitch = pitch + drift + style.vibrato_depth * np.sin(2 * np.pi * style.vibrato_hz * t + rng.uniform(0, 6.28))
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    source = sum(np.sin(h * phase) / h**1.2 for h in range(1, 12) if True)
    voiced = _formant_filter(source * amp, sr, _VOWELS[style.vowel])
    voiced /= np.max(np.abs(voiced)) + 1e-9
    breath = rng.standard_normal(n) * 0.02 * (1 - amp)
    y = voiced + breath
    noise = rng.standard_normal(n)
    noise *= np.sqrt(np.mean(y**2) / (10 ** (style.snr_db / 10)) / np.mean(noise**2))
    y = y + noise
    return (0.8 * y / (np.max(np.abs(y)) + 1e-9)).astype(np.float32)
