"""Audio input: every supported container decodes; bad files fail with a clear reason."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import FFMPEG, SR, synth, write_audio, write_sparse_wav

from tonearm.audio import WindowPolicy, load, load_for_analysis, probe
from tonearm.errors import DecodeError

FORMATS = [".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".webm", ".mp4", ".mkv"]


@pytest.fixture(scope="module")
def format_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("formats")
    y = synth("tonal", 4.0)
    for ext in FORMATS:
        if ext in (".wav", ".flac") or FFMPEG:
            write_audio(root / f"clip{ext}", y)
    return root


@pytest.mark.parametrize("ext", FORMATS)
def test_every_format_decodes_to_mono_at_requested_rate(format_dir, ext):
    path = format_dir / f"clip{ext}"
    if not path.exists():
        pytest.skip("ffmpeg not installed")
    info = probe(path)
    assert info.duration == pytest.approx(4.0, abs=0.1)
    y = load(path, 16000)
    assert y.dtype == np.float32 and y.ndim == 1
    assert y.size == pytest.approx(4.0 * 16000, rel=0.03)
    # Same content as the source: the dominant frequency survives any codec.
    spectrum = np.abs(np.fft.rfft(y[: 16000 * 2]))
    assert 150 < np.argmax(spectrum) * 16000 / (16000 * 2) < 700


def test_offset_and_duration_seek(format_dir):
    y = load(format_dir / "clip.flac", SR, offset=1.0, duration=2.0)
    assert y.size == 2 * SR
    yv = load(format_dir / "clip.m4a", SR, offset=1.0, duration=2.0)  # PyAV path
    assert yv.size == pytest.approx(2 * SR, rel=0.02)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.wav", b"", "empty file"),
        ("random.flac", np.random.default_rng(1).bytes(40000), r"not audio \(unrecognised format\)"),
        ("text.ogg", b"this is not audio\n" * 50, r"not audio \(a text file\)"),
    ],
)
def test_bad_files_raise_decode_error(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DecodeError, match=reason):
        load_for_analysis(path, SR)


def test_truncated_mp3_is_detected(tmp_path):
    if not FFMPEG:
        pytest.skip("ffmpeg not installed")
    full = write_audio(tmp_path / "full.mp3", synth("tonal", 20.0))
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 4])
    with pytest.raises(DecodeError, match="truncated"):
        load_for_analysis(cut, SR)


def test_window_policy_bounds_long_files():
    policy = WindowPolicy(full_max=120, count=6, length=20)
    assert policy.plan(90) == [(0.0, 90)]
    windows = policy.plan(3 * 3600)
    assert len(windows) == 6
    assert sum(length for _, length in windows) == 120
    starts = [s for s, _ in windows]
    assert starts == sorted(starts) and starts[0] >= 0.05 * 3 * 3600 - 1e-6
    assert starts[-1] + 20 <= 0.95 * 3 * 3600 + 1e-6


def test_three_hour_file_costs_bounded_time(tmp_path):
    path = write_sparse_wav(tmp_path / "mix.wav", 3 * 3600)
    t0 = time.perf_counter()
    audio = load_for_analysis(path, SR)
    elapsed = time.perf_counter() - t0
    assert audio.info.duration == pytest.approx(3 * 3600)
    assert audio.analysed_seconds == pytest.approx(120, abs=1)
    assert elapsed < 30  # generous: decoding 3 h would take minutes
