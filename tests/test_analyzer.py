"""Sound view v1 and library normalisation."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SR, synth

from tonearm.analyzers import DEFAULT_VIEWS, get_analyzer, parse_views
from tonearm.analyzers.dsp import BLOCKS, DIM, zero_crossing_rate
from tonearm.analyzers.normalize import Moments, Standardizer
from tonearm.audio.decode import AudioInfo
from tonearm.audio.segments import DecodedAudio
from tonearm.errors import TonearmError


def _audio(y: np.ndarray, sr: int = SR) -> DecodedAudio:
    return DecodedAudio(AudioInfo(y.size / sr, sr, 1, "test"), sr, [y], [0.0])


def test_declares_identity_and_dimension():
    a = get_analyzer("dsp")
    assert (a.name, a.view, a.key) == ("dsp", "sound", "dsp@1")
    assert a.dim == DIM == sum(n for _, n in BLOCKS)
    assert DEFAULT_VIEWS == {
        "sound": "fused", "melody": "melody", "words": "words", "fingerprint": "chromaprint", "landmarks": "landmarks",
    }  # fmt: skip


@pytest.mark.parametrize("y", [np.zeros(SR * 3, np.float32), np.zeros(100, np.float32), synth("noise", 0.2)])
def test_degenerate_input_gives_finite_vector(y):
    v = get_analyzer("dsp").analyze(_audio(y))
    assert v.shape == (DIM,) and np.all(np.isfinite(v))


def test_same_family_is_closer_than_other_families():
    a = get_analyzer("dsp")
    kinds = ("tonal", "percussive", "noise", "chirp")
    raw = np.array([a.analyze(_audio(synth(k, 5.0, seed=s, f0=200 + 30 * s))) for k in kinds for s in range(3)])
    vecs = Standardizer.fit("dsp@1", raw).apply(raw)
    sims = vecs @ vecs.T
    labels = np.repeat(np.arange(4), 3)
    for i in range(len(labels)):
        order = [j for j in np.argsort(-sims[i]) if j != i]
        assert labels[order[0]] == labels[i], f"nearest neighbour of item {i} is from another family"


def test_segments_are_pooled_not_concatenated():
    a = get_analyzer("dsp")
    y = synth("tonal", 4.0)
    one = a.analyze(_audio(y))
    two = a.analyze(DecodedAudio(AudioInfo(8.0, SR, 1, "t"), SR, [y, y], [0.0, 4.0]))
    assert np.allclose(one, two, rtol=0.05, atol=0.05)


def test_standardizer_roundtrip_and_refit_rule():
    raw = np.random.default_rng(0).normal(5, 3, size=(50, 8))
    std = Standardizer.fit("dsp@1", raw)
    out = std.apply(raw)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    again = Standardizer.from_json(std.to_json())
    assert np.allclose(again.apply(raw[:3]), out[:3])
    assert not std.needs_refit("dsp@1", 55)
    assert std.needs_refit("dsp@1", 70)
    assert std.needs_refit("dsp@2", 50)


def test_parse_views():
    assert parse_views("sound=dsp") == {
        "sound": "dsp",
        "melody": "melody",
        "words": "words",
        "fingerprint": "chromaprint",
        "landmarks": "landmarks",
    }
    assert parse_views("melody=melody")["melody"] == "melody"
    with pytest.raises(TonearmError, match="unknown analyzer"):
        parse_views("sound=nope")
    with pytest.raises(TonearmError, match="produces the 'sound' view"):
        parse_views("melody=dsp")
    with pytest.raises(TonearmError, match="VIEW=ANALYZER"):
        parse_views("dsp")


def test_moments_merged_batch_by_batch_equal_one_pass_statistics():
    """A refit streams the library: merged batch moments must give the one-pass mean and std,
    also for features far from zero (where summing squares would cancel)."""
    rng = np.random.default_rng(1)
    raw = np.concatenate([rng.normal(1e4, 1.0, size=(700, 3)), rng.normal(-2.0, 50.0, size=(700, 3))], axis=1)
    moments = Moments()
    for i in (0, 1, 7, 300, 301, 699):  # uneven batches, one of a single row
        moments.add(raw[i : {0: 1, 1: 7, 7: 300, 300: 301, 301: 699, 699: 700}[i]])
    moments.add(raw[:0])  # an empty batch changes nothing
    streamed = moments.standardizer("dsp@1")
    whole = Standardizer.fit("dsp@1", raw)
    assert streamed.n == whole.n == 700
    assert np.allclose(streamed.mean, raw.mean(0), rtol=0, atol=1e-9)
    assert np.allclose(streamed.std, raw.std(0), rtol=1e-9)
    assert np.allclose(streamed.apply(raw), whole.apply(raw), atol=1e-6)
    one = Moments()
    one.add(raw[:1])
    assert np.array_equal(one.standardizer("dsp@1").std, np.ones(6))  # one row: no spread to divide by
    with pytest.raises(ValueError):
        Moments().standardizer("dsp@1")


def test_the_fused_view_ships_its_within_recording_scatter():
    """The discriminant projection's fixed half: a real scatter matrix over the networks' outputs."""
    from tonearm.analyzers.fused import DISCRIMINANT_DIMS, FusedSoundAnalyzer, within_track_scatter

    fused = FusedSoundAnalyzer()
    within = within_track_scatter()
    assert within.shape == (fused.dim, fused.dim) and np.array_equal(within, within.T)
    assert not within[:127].any() and not within[:, :127].any()  # DSP statistics are per track
    eig = np.linalg.eigvalsh(within[127:, 127:])
    assert eig.min() > -1e-6 * eig.max() and np.count_nonzero(eig > 1e-9 * eig.max()) > 100
    recipe = fused.discriminant()
    assert recipe.dims == DISCRIMINANT_DIMS and recipe.within is within and recipe.method(10) == "zscore"
    # On vectors spread like real ones it gives a usable projection: finite, unit-length, d numbers.
    rng = np.random.default_rng(0)
    raw = rng.normal(0, 1, (200, fused.dim)) * np.sqrt(np.diag(within) + 1e-3)
    moments = Moments(covariance=True)
    moments.add(raw)
    std = moments.standardizer(fused.key, fused.dim_weights(), recipe)
    v = std.apply(raw[:5])
    assert std.method == recipe.name and np.all(np.isfinite(v)) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert not v[:, DISCRIMINANT_DIMS:].any()


@pytest.mark.parametrize("length", [2048, 2049, 5000, 154363])
def test_zero_crossing_rate_is_librosas(length):
    """The DSP view's own zero-crossing rate gives librosa's numbers exactly (its vectors are unchanged)."""
    import librosa

    rng = np.random.default_rng(length)
    signals = [rng.standard_normal(length).astype(np.float32) * 10.0 ** -rng.integers(0, 12) for _ in range(3)]
    signals[1][rng.random(length) < 0.3] = 0.0
    signals[2][rng.random(length) < 0.3] = -0.0  # a negative zero is no crossing
    signals.append((1.5e-10 * np.sin(np.arange(length) / 50.0)).astype(np.float32))  # around the threshold
    signals.append(np.resize(synth("percussive", 1.0), length).astype(np.float32))
    for y in signals:
        reference = librosa.feature.zero_crossing_rate(y, frame_length=2048, hop_length=512)[0]
        assert np.array_equal(zero_crossing_rate(y), reference)
