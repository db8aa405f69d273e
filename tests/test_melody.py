"""Melody view and query by humming."""

from __future__ import annotations

import importlib.util
import json
import time

import numpy as np
import pytest
import soundfile as sf
from conftest import run_cli, synth, write_sparse_wav

from tonearm.analyzers.melody import (
    NoteEvent,
    encode_notes,
    intervals,
    ngram_vector,
    note_array,
    note_arrays,
    notes_from_contour,
)
from tonearm.eval.hum import HumStyle, hum
from tonearm.eval.render import INSTRUMENTS, Voice, have_renderer, render
from tonearm.eval.symbolic import select_tunes
from tonearm.search.hum import local_alignment, local_alignments

needs_renderer = pytest.mark.skipif(not have_renderer(), reason="fluidsynth / GM soundfonts not installed")


def _brute_force_alignment(q, t, match=2.0, near=0.5, mismatch=-1.5, gap=-1.0):
    H = np.zeros((len(q) + 1, len(t) + 1))
    for i in range(1, len(q) + 1):
        for j in range(1, len(t) + 1):
            d = abs(q[i - 1] - t[j - 1])
            s = match if d == 0 else near if d == 1 else mismatch
            H[i, j] = max(0, H[i - 1, j - 1] + s, H[i - 1, j] + gap, H[i, j - 1] + gap)
    return H.max() / (match * len(q))


def test_vectorised_alignment_equals_textbook_smith_waterman():
    rng = np.random.default_rng(0)
    for _ in range(150):
        q = rng.integers(-4, 5, rng.integers(1, 14))
        t = rng.integers(-4, 5, rng.integers(1, 50))
        assert local_alignment(q, t).score == pytest.approx(_brute_force_alignment(q, t), abs=1e-9)


def test_alignment_of_many_targets_at_once_equals_one_by_one():
    """The rerank aligns all candidates in one padded matrix: same scores and matched ranges as one at a time."""
    rng = np.random.default_rng(1)
    for _ in range(20):
        q = rng.integers(-4, 5, rng.integers(1, 14))
        targets = [rng.integers(-4, 5, rng.integers(0, 60)) for _ in range(rng.integers(1, 12))]
        together = local_alignments(q, targets)
        for t, aln in zip(targets, together, strict=True):
            assert aln.score == pytest.approx(_brute_force_alignment(q, t) if t.size else 0.0, abs=1e-9)
            alone = local_alignment(q, t)  # a batch of one: no padding at all
            assert (aln.start, aln.end) == (alone.start, alone.end)


def test_alignment_scores_stay_exact_over_the_whole_interval_range_and_long_targets():
    """Octave-wide intervals, hundreds of notes, many candidates: the narrow-typed rerank still equals the textbook."""
    rng = np.random.default_rng(2)
    q = rng.integers(-12, 13, 16)
    targets = [rng.integers(-12, 13, n) for n in (0, 1, 7, 90, 400)]
    targets.append(np.concatenate([rng.integers(-12, 13, 200), q, rng.integers(-12, 13, 100)]))  # planted
    for t, aln in zip(targets, local_alignments(q, targets), strict=True):
        assert aln.score == (_brute_force_alignment(q, t) if t.size else 0.0)
    assert local_alignments(q, targets)[-1].score == 1.0


def test_stored_note_lists_parse_in_one_pass_as_one_by_one():
    rng = np.random.default_rng(3)
    lists = [[NoteEvent(float(o), float(d), float(p)) for o, d, p in rng.uniform([0, 0.1, 40], [300, 2, 90], (n, 3))]
             for n in (1, 5, 300)]  # fmt: skip
    texts = [encode_notes(notes) for notes in lists] + [None, "", "[]", encode_notes([])]
    parsed = note_arrays(texts)
    assert len(parsed) == len(texts)
    for text, arr in zip(texts, parsed, strict=True):
        assert arr.shape == note_array(text).shape and np.array_equal(arr, note_array(text))
    with pytest.raises(ValueError):  # a damaged list fails as it always did, not by shifting its neighbours
        note_arrays([texts[0], "[[1,2]]", texts[1]])


def test_alignment_finds_the_query_anywhere_and_reports_where():
    target = np.array([5, -3, 2, 2, -1, 3, -2, 7, -7, 1])
    aln = local_alignment(np.array([2, 2, -1, 3, -2]), target)
    assert aln.score == 1.0 and (aln.start, aln.end) == (2, 6)
    wrong_note = local_alignment(np.array([2, 1, -1, 3, -2]), target)  # one interval a semitone off
    assert 0.7 < wrong_note.score < 1.0


def test_profile_is_key_and_tempo_invariant():
    line = [60, 62, 64, 60, 67, 65, 64, 62, 60, 59, 60]
    a = [NoteEvent(i * 0.5, 0.4, p) for i, p in enumerate(line)]
    b = [NoteEvent(i * 0.8, 0.7, p + 5) for i, p in enumerate(line)]  # other key, slower
    assert np.array_equal(intervals(a), intervals(b))
    assert np.allclose(ngram_vector(intervals(a)), ngram_vector(intervals(b)))
    assert np.linalg.norm(ngram_vector(intervals(a))) == pytest.approx(1.0)
    assert not np.any(ngram_vector(np.array([2])))  # too short: empty profile


def test_notes_from_contour_merges_repeats_and_drops_blips():
    hop = 256 / 22050
    pitch = np.array([60.1] * 20 + [62.0] * 2 + [64.0] * 20 + [64.0] * 20)
    voiced = np.ones(pitch.size, bool)
    notes = notes_from_contour(pitch, voiced)
    assert [round(n.pitch) for n in notes] == [60, 64]  # the 2-frame blip is smoothed away, repeats merged
    assert notes[0].pitch == pytest.approx(60.1)  # a note keeps its median (fractional) pitch
    assert notes[0].onset == 0.0 and notes[1].duration == pytest.approx(40 * hop, abs=3 * hop)


@pytest.fixture(scope="module")
def tune_library(tmp_path_factory):
    """Six tunes, each rendered once; one tune also transposed +4 and played 0.8x slower on another instrument."""
    if not have_renderer():
        pytest.skip("fluidsynth / GM soundfonts not installed")
    root = tmp_path_factory.mktemp("tunes")
    music = root / "music"
    music.mkdir()
    tunes = select_tunes("german_folk", 3, seed=3) + select_tunes("reel", 3, seed=3)
    for i, t in enumerate(tunes):
        y = render([Voice(t.melody, INSTRUMENTS["flute"])], 110, loop_to=20, max_seconds=20)
        sf.write(str(music / f"tune{i}.flac"), y, 22050)
    y = render([Voice(tunes[0].melody, INSTRUMENTS["piano"])], 110 * 0.8, "timgm6mb", transpose=4, max_seconds=25)
    sf.write(str(music / "tune0_version.flac"), y, 22050)
    lib = root / "lib"
    res = run_cli("index", str(music), "--library", str(lib), "-j", "2")
    assert res.returncode == 0, res.stderr
    return tunes, music, lib


@needs_renderer
def test_transposed_slower_version_is_found_by_melody_view(tune_library):
    _, music, lib = tune_library
    res = run_cli("similar", str(music / "tune0.flac"), "--view", "melody", "--library", str(lib), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["results"][0]["path"].endswith("tune0_version.flac")


@needs_renderer
def test_hummed_query_finds_its_tune_with_time_range(tune_library, tmp_path):
    tunes, _, lib = tune_library
    style = HumStyle(transpose=-7, tempo=0.9, intonation_sd=0.2, drift_sd=0.1, vibrato_hz=5.5,
                     vibrato_depth=0.25, timing_jitter=0.1, vowel="u", snr_db=15)  # fmt: skip
    rng = np.random.default_rng(5)
    query = tmp_path / "hum.wav"
    sf.write(str(query), hum(list(tunes[1].melody[4:18]), 110, style, rng), 16000)
    res = run_cli("hum", str(query), "--library", str(lib), "-k", "3", "--json")
    assert res.returncode == 0, res.stderr
    payload = json.loads(res.stdout)
    top = payload["results"][0]
    assert top["path"].endswith("tune1.flac")
    assert payload["query"]["view"] == "melody" and payload["query"]["notes"] >= 8
    assert 0 <= top["match"]["start"] < top["match"]["end"] <= 20.5
    scores = [r["score"] for r in payload["results"]]
    assert scores == sorted(scores, reverse=True)


@needs_renderer
@pytest.mark.parametrize("kind", ["silence", "noise", "half_second", "ten_minutes"])
def test_hopeless_queries_give_a_clear_error_in_bounded_time(tune_library, tmp_path, kind):
    _, _, lib = tune_library
    path = tmp_path / f"{kind}.wav"
    if kind == "silence":
        sf.write(str(path), np.zeros(16000 * 5, np.float32), 16000)
    elif kind == "noise":
        sf.write(str(path), synth("noise", 6.0, sr=16000), 16000)
    elif kind == "half_second":
        sf.write(str(path), synth("tonal", 0.5, sr=16000), 16000)
    else:
        write_sparse_wav(path, 600)
    t0 = time.perf_counter()
    res = run_cli("hum", str(path), "--library", str(lib))
    assert time.perf_counter() - t0 < 60
    assert res.returncode == 2 and "no tune found" in res.stderr and "Traceback" not in res.stderr


@needs_renderer
@pytest.mark.skipif(importlib.util.find_spec("basic_pitch") is None, reason="pip install --no-deps basic-pitch==0.4.0")
def test_basic_pitch_melody_view_serves_hum_queries(tune_library, tmp_path):
    tunes, music, _ = tune_library
    lib = tmp_path / "bp-lib"
    res = run_cli("index", str(music), "--library", str(lib), "--views", "sound=dsp,melody=basicpitch", "-j", "2")
    assert res.returncode == 0, res.stderr
    style = HumStyle(transpose=-5, tempo=1.0, intonation_sd=0.15, drift_sd=0.05, vibrato_hz=5.0,
                     vibrato_depth=0.2, timing_jitter=0.05, vowel="a", snr_db=20)  # fmt: skip
    query = tmp_path / "hum.wav"
    sf.write(str(query), hum(list(tunes[4].melody[2:16]), 110, style, np.random.default_rng(9)), 16000)
    payload = json.loads(run_cli("hum", str(query), "--library", str(lib), "-k", "3", "--json").stdout)
    assert payload["results"][0]["path"].endswith("tune4.flac")
    info = json.loads(run_cli("info", str(music / "tune4.flac"), "--library", str(lib), "--json").stdout)
    assert info["views"]["melody"] == "basicpitch@1"


def test_missing_basic_pitch_is_a_clear_error(monkeypatch):
    import tonearm.analyzers.basicpitch as B
    from tonearm.errors import TonearmError

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(TonearmError, match=r"pip install --no-deps basic-pitch==0\.4\.0"):
        B.model_path()
