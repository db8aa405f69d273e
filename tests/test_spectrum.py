"""The analyzers' own STFT front end gives librosa's spectrograms (shape, frame positions, values)."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from tonearm.audio import spectrum


@pytest.mark.filterwarnings("ignore:n_fft=.*is too large")  # librosa's note on the 1- and 300-sample signals
@pytest.mark.parametrize(("n_fft", "hop"), [(2048, 512), (2048, 256), (2048, 1024), (512, 256)])
@pytest.mark.parametrize("length", [1, 300, 2048, 2049, 44100 * 3 + 17])
def test_magnitude_matches_librosa(n_fft, hop, length):
    rng = np.random.default_rng(length + n_fft + hop)
    y = (rng.standard_normal(length) * 0.3).astype(np.float32)
    reference = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop))
    ours = spectrum.magnitude(y, n_fft, hop)
    assert ours.shape == reference.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5 * float(reference.max()))


def test_power_feeds_a_mel_bank_as_librosa_does():
    y = np.sin(2 * np.pi * 440 * np.arange(16000 * 2) / 16000).astype(np.float32)
    reference = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=256, n_mels=96)
    ours = librosa.filters.mel(sr=16000, n_fft=512, n_mels=96) @ spectrum.power(y, 512, 256)
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-6 * float(reference.max()))
