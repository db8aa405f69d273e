"""The incremental index job: skip, change, remove, fail, resume."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from conftest import run_cli, synth, write_audio, write_sparse_wav

from tonearm.analyzers import get_analyzer
from tonearm.library.indexer import Indexer
from tonearm.store import open_store
from tonearm.store.base import vector_column
from tonearm.store.identity import track_id


@pytest.fixture
def music(tmp_path, music_dir):
    dst = tmp_path / "music"
    shutil.copytree(music_dir, dst)
    return dst


SOUND_ONLY = {"sound": "fused", "melody": "melody"}


def _index(store, root, views=None, **kw):
    return Indexer(store, views).run([str(root)], workers=kw.pop("workers", 2), **kw)


def test_first_run_then_unchanged_rerun(music, library):
    store = open_store(str(library))
    first = _index(store, music)
    assert (first.scanned, first.added, len(first.failed)) == (12, 12, 0)
    assert store.count() == 12
    rows = list(store.scan())
    assert all(r[vector_column("sound")] is not None for r in rows), "every track searchable after the run"
    assert {r["genre"] for r in rows} == {"Tonal", "Percussive", "Noise", "Chirp"}
    assert json.loads(rows[0]["views_json"]) == {
        "sound": "fused@3", "melody": "melody@1", "words": "words@2", "fingerprint": "chromaprint@1",
        "landmarks": "landmarks@1",
    }  # fmt: skip
    second = _index(store, music)
    assert (second.added, second.updated, second.unchanged) == (0, 0, 12)
    assert store.count() == 12


def test_changed_touched_removed_and_kept_missing(music, library):
    store = open_store(str(library))
    _index(store, music)
    changed = music / "tonal" / "tonal_0.flac"
    before = store.find_by_path(str(changed))
    write_audio(changed, synth("percussive", 6.0, seed=99))  # new content
    touched = music / "noise" / "noise_0.flac"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 5_000_000_000))
    gone = music / "chirp" / "chirp_2.flac"
    gone.unlink()
    report = _index(store, music, keep_missing=True)
    assert report.updated == 2 and report.removed == 0
    after = store.find_by_path(str(changed))
    assert after["content_hash"] != before["content_hash"]
    assert after[vector_column("sound")] != before[vector_column("sound")]
    assert after["added_at"] == before["added_at"], "re-analysis keeps the track's identity"
    assert store.find_by_path(str(gone)) is not None  # --keep-missing
    report = _index(store, music)
    assert report.removed == 1 and store.count() == 11
    assert store.find_by_path(str(gone)) is None


def test_sidecar_edit_refreshes_metadata_without_reanalysis(music, library):
    # Views that read metadata (words) follow sidecar edits: see test_words for that case.
    store = open_store(str(library))
    _index(store, music, views=SOUND_ONLY)
    track = music / "tonal" / "tonal_1.flac"
    (music / "tonal" / "tonal_1.flac.json").write_text(json.dumps({"mood": "calm", "popularity": 80}))
    before = store.find_by_path(str(track))
    report = _index(store, music, views=SOUND_ONLY)
    assert report.metadata_refreshed == 1 and report.updated == 0
    row = store.find_by_path(str(track))
    assert row["mood"] == "calm" and row["popularity"] == 80
    assert row["analyzed_at"] == before["analyzed_at"]
    assert store.count(store.compile_where("mood = 'calm'")) == 1


def test_bad_files_never_stop_the_run(music, library):
    bad = music / "bad"
    bad.mkdir()
    (bad / "zero.wav").write_bytes(b"")
    (bad / "random.flac").write_bytes(os.urandom(30000))
    (bad / "notes.ogg").write_text("not audio at all\n")
    good_mp3 = write_audio(music / "tmp.mp3", synth("tonal", 20.0))
    (bad / "truncated.mp3").write_bytes(good_mp3.read_bytes()[: good_mp3.stat().st_size // 3])
    good_mp3.unlink()
    write_sparse_wav(bad / "three_hours.wav", 3 * 3600)
    store = open_store(str(library))
    report = _index(store, music)
    failed = {os.path.basename(p): reason for p, reason in report.failed}
    assert set(failed) == {"zero.wav", "random.flac", "notes.ogg", "truncated.mp3"}
    assert "empty" in failed["zero.wav"] and "truncated" in failed["truncated.mp3"]
    assert all("\n" not in r for r in failed.values())
    assert store.count() == 13  # 12 good + the 3-hour file
    long_row = store.find_by_path(str(bad / "three_hours.wav"))
    assert long_row["duration"] == pytest.approx(3 * 3600)
    assert {os.path.basename(f["path"]) for f in store.failures()} == set(failed)
    again = _index(store, music)  # failed files are not retried until they change
    assert again.skipped_failed == 4 and not again.failed
    (bad / "zero.wav").unlink()
    _index(store, music)
    assert "zero.wav" not in {os.path.basename(f["path"]) for f in store.failures()}


def test_analyzer_version_change_reanalyses_only_that_view(music, library):
    store = open_store(str(library))
    _index(store, music)
    indexer = Indexer(store)
    rows = {r["path"]: r for r in store.scan(columns=["id", "path", "size", "mtime_ns", "content_hash",
                                                       "views_json", "sidecar_sig"])}  # fmt: skip
    stale_path = next(iter(rows))
    rows[stale_path]["views_json"] = json.dumps(
        {
            "sound": "dsp@0",
            "melody": "melody@1",
            "words": "words@2",
            "fingerprint": "chromaprint@1",
            "landmarks": "landmarks@1",
        }
    )
    from tonearm.library.indexer import IndexReport
    from tonearm.library.scan import iter_audio_files

    jobs, refresh = indexer._plan(list(iter_audio_files([str(music)])), rows, {}, False, IndexReport())
    # The job names every view (they set the decode rate); only the stale one is redone.
    assert [(j.path, set(j.views) - j.fresh_views) for j in jobs] == [(stale_path, {"sound"})]
    assert jobs[0].views == indexer.views
    assert jobs[0].known_hash == rows[stale_path]["content_hash"]
    assert refresh == []


def test_track_ids_are_stable_per_path(music, library):
    store = open_store(str(library))
    _index(store, music)
    p = str(music / "tonal" / "tonal_0.flac")
    assert store.find_by_path(p)["id"] == track_id(p)


def test_a_library_keeps_its_views_when_run_without_views(tmp_path):
    music = tmp_path / "m"
    write_audio(music / "a.flac", synth("tonal", 4.0))
    lib = str(tmp_path / "lib")
    assert run_cli("index", str(music), "--library", lib, "--views", "sound=dsp").returncode == 0
    write_audio(music / "b.flac", synth("chirp", 4.0))
    res = run_cli("index", str(music), "--library", lib, "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["added"] == 1 and json.loads(res.stdout)["updated"] == 0
    store = open_store(lib)
    assert store.get_meta("views")["sound"] == "dsp" and store.views()["sound"] == get_analyzer("dsp").dim


def _chirp(folder):
    """A 22.05 kHz chirp whose melody is one a 22.05 kHz decode and a 44.1 kHz one analyse differently."""
    path = folder / "07.flac"
    write_audio(path, synth("chirp", 12.0, seed=7, f0=199))
    return path


def test_a_view_redone_alone_gets_the_numbers_a_full_analysis_gives(tmp_path, monkeypatch):
    """Re-analysing one view decodes at the rate of the library's full set of views.

    This chirp at 22.05 kHz gave another melody vector when decoded for the melody view alone
    (22.05 kHz) than when decoded for every view (44.1 kHz, then resampled to 22.05 kHz).
    """
    from tonearm.library import worker
    from tonearm.library.worker import Job, run_job

    path = _chirp(tmp_path)
    views = {"sound": "fused", "melody": "melody"}
    rates = []
    load = worker.load_for_analysis
    monkeypatch.setattr(worker, "load_for_analysis", lambda p, sr: rates.append(sr) or load(p, sr))
    full = run_job(Job(str(path), views))
    alone = run_job(Job(str(path), views, known_hash=full.content_hash, fresh_views=frozenset({"sound"})))
    assert full.error is None and alone.error is None
    assert set(alone.raw) == {"melody"} and alone.content_unchanged
    assert rates == [44100, 44100]
    assert (alone.raw["melody"] == full.raw["melody"]).all()


def test_a_view_lost_from_an_unchanged_file_is_redone_as_the_full_run_made_it(tmp_path):
    """The index run plans a redo of one view with the file's whole view set (and so its decode rate)."""
    folder = tmp_path / "music"
    folder.mkdir()
    path = _chirp(folder)
    store = open_store(str(tmp_path / "lib"))
    Indexer(store, SOUND_ONLY).run([str(folder)])
    row = store.get([track_id(str(path))])[0]
    views = json.loads(row["views_json"])
    del views["melody"]  # as `check --repair` marks a row whose melody analysis was lost
    store.upsert([dict(row, raw_melody=None, vec_melody=None, views_json=json.dumps(views))])
    report = Indexer(store, SOUND_ONLY).run([str(folder)])
    assert report.updated == 1
    again = store.get([track_id(str(path))])[0]
    assert again["raw_melody"] == row["raw_melody"] and again["raw_sound"] == row["raw_sound"]


def test_the_adapt_choice_is_remembered_by_the_library(tmp_path):
    """`index --no-adapt` keeps plain z-scores for good; `--adapt` turns the projection back on."""
    music = tmp_path / "music"
    write_audio(music / "a.wav", synth("tonal", 3.0, seed=1))
    store = open_store(str(tmp_path / "lib"))
    views = {"sound": "dsp"}
    Indexer(store, views, adapt=False).run([str(music)], workers=1)
    assert store.get_meta("adapt") is False
    Indexer(store, views).run([str(music)], workers=1)  # no choice given: the library's
    assert store.get_meta("adapt") is False
    run_cli("index", str(music), "-l", str(tmp_path / "lib"), "--views", "sound=dsp", "--adapt", "--json")
    assert open_store(str(tmp_path / "lib")).get_meta("adapt") is True


def test_a_run_ends_with_statistics_fitted_on_nearly_all_the_library(tmp_path):
    """During a run the statistics follow a 20% drift; its end refits from a 2% drift, so tracks
    added last (often a new kind of music) are not left outside the fit."""
    music = tmp_path / "music"
    for i in range(5):
        write_audio(music / f"{i}.wav", synth(("tonal", "chirp")[i % 2], 2.0, seed=i))
    store = open_store(str(tmp_path / "lib"))
    Indexer(store, {"sound": "dsp"}).run([str(music)], workers=1)
    assert store.get_meta("normalizer:sound")["n"] == 5
    write_audio(music / "5.wav", synth("noise", 2.0, seed=5))  # 20% more: not past the in-run rule
    Indexer(store, {"sound": "dsp"}).run([str(music)], workers=1)
    assert store.get_meta("normalizer:sound")["n"] == 6


def test_an_index_run_that_crosses_the_projection_threshold_searches_the_short_vectors(tmp_path, monkeypatch):
    """A library that grows past the analyzer's minimum gets its projection: the search column takes the
    projection's length in the run's refit, tracks added later get vectors of that length, and `--no-adapt`
    brings back full-length z-scores; the raw column keeps the analyzer's dimension all along."""
    import numpy as np

    from tonearm.analyzers.dsp import DspSoundAnalyzer
    from tonearm.analyzers.normalize import Discriminant
    from tonearm.library.check import check_library
    from tonearm.search.similar import similar

    dim = get_analyzer("dsp").dim
    recipe = Discriminant("test-lda-1", np.eye(dim), dims=3, ridge=1.0, min_tracks=6)
    monkeypatch.setattr(DspSoundAnalyzer, "discriminant", lambda self: recipe)
    music = tmp_path / "music"
    kinds = ("tonal", "chirp", "noise", "percussive")
    for i in range(8):
        write_audio(music / f"{i}.wav", synth(kinds[i % 4], 2.0, seed=i))
    store = open_store(str(tmp_path / "lib"))
    Indexer(store, {"sound": "dsp"}).run([str(music)], workers=1)
    assert store.views() == {"sound": 3} and store.raw_dims() == {"sound": dim}
    rows = list(store.scan(columns=["id", vector_column("sound")]))
    assert len(rows) == 8 and all(len(r[vector_column("sound")]) == 3 for r in rows)
    by_id = similar(store, rows[0]["id"], k=3)["results"]
    assert len(by_id) == 3 and rows[0]["id"] not in [r["id"] for r in by_id]
    write_audio(tmp_path / "clip.wav", synth("chirp", 2.0, seed=99))  # not in the library: analysed, projected
    assert len(similar(store, str(tmp_path / "clip.wav"), k=3)["results"]) == 3
    write_audio(music / "8.wav", synth("tonal", 2.0, seed=8))
    Indexer(store, {"sound": "dsp"}).run([str(music)], workers=1)
    new = store.get([track_id(str(music / "8.wav"))])[0]
    assert len(new[vector_column("sound")]) == 3 and len(new["raw_sound"]) == dim
    assert check_library(store, files=False).clean
    Indexer(store, {"sound": "dsp"}, adapt=False).run([str(music)], workers=1)
    assert store.views() == {"sound": dim}
    assert all(len(r[vector_column("sound")]) == dim for r in store.scan(columns=[vector_column("sound")]))
