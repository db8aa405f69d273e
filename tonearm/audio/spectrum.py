"""Magnitude spectrograms for the analyzers' front ends, computed in one pass.

``librosa.stft`` with its defaults (centred frames, zero padding, periodic Hann window) gives the
numbers the analyzers were built on, but it windows and transforms in float64, block by block; here
all frames of a segment are windowed in float32 and transformed in one call (measured over 480 s of
rendered tunes, one core: aiSFX's mel front end 0.36-0.50 -> 0.22-0.24 s, musicnn's 0.12-0.17 ->
0.06-0.09 s, the melody analyzer 0.75 -> 0.53-0.62 s). The values agree with librosa's to about 1e-7
of the loudest bin (``tests/test_spectrum.py``); on loud input a log-mel value moves by up to 4e-5,
and the networks' outputs stay within 3e-4 of TensorFlow's and torch's (``tests/test_model_parity.py``).

Not for the DSP statistics: their spectral contrast reads the quietest bins of each band, where
float32 rounding of a loud track's spectrum moved the statistic by up to 0.2; they keep librosa's.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view


@cache
def _hann(n_fft: int) -> np.ndarray:
    """The periodic Hann window librosa uses (``scipy.signal.get_window("hann", n_fft)``), float32.

    Written out because importing ``scipy.signal`` takes a second, paid by every process that loads
    an analyzer (the index run's main process, a query, the server) before it analyses anything."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


def magnitude(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """(1 + n_fft // 2, frames) float32 ``|STFT|`` of a mono signal, frames centred on ``k * hop``.

    Same shape and frame positions as ``np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop))``; a
    signal shorter than half a frame still gives one frame, as librosa's zero padding does.
    """
    padded = np.pad(np.asarray(y, dtype=np.float32), n_fft // 2)
    frames = sliding_window_view(padded, n_fft)[::hop]
    return np.abs(scipy.fft.rfft(frames * _hann(n_fft), axis=-1)).T


def power(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """``magnitude(y, n_fft, hop) ** 2``: what a mel filter bank is applied to."""
    return np.square(magnitude(y, n_fft, hop))
