"""The command line, through the real entry point in fresh processes."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import run_cli, synth, write_audio


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, music_dir):
    root = tmp_path_factory.mktemp("cli")
    music = root / "music"
    shutil.copytree(music_dir, music)
    # An exact copy (same bytes) of one track: must never be returned for the original.
    shutil.copy(music / "tonal" / "tonal_0.flac", music / "tonal" / "tonal_0_copy.flac")
    lib = root / "lib"
    res = run_cli("index", str(music), "--library", str(lib), "-j", "2")
    assert res.returncode == 0, res.stderr
    assert "13 files: 13 added" in res.stdout.replace("\n", " ")
    return music, lib


def _json(res):
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_similar_json_schema_self_and_duplicate_exclusion(indexed):
    music, lib = indexed
    target = str(music / "tonal" / "tonal_0.flac")
    payload = _json(run_cli("similar", target, "--library", str(lib), "-k", "20", "--json"))
    assert set(payload) == {"query", "results"}
    assert payload["query"]["path"] == target and payload["query"]["view"] == "sound"
    results = payload["results"]
    paths = [r["path"] for r in results]
    assert target not in paths and str(music / "tonal" / "tonal_0_copy.flac") not in paths
    assert len(results) == 11
    for key in ("id", "path", "title", "artist", "album", "score", "rank"):
        assert key in results[0]
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert results[0]["title"].startswith("tonal")  # same sound family ranks first
    by_id = _json(run_cli("similar", payload["results"][0]["id"], "--library", str(lib), "--json"))
    assert payload["results"][0]["id"] not in [r["id"] for r in by_id["results"]]


def test_similar_for_outside_file_with_filter_and_min_score(indexed, tmp_path):
    _, lib = indexed
    outside = write_audio(tmp_path / "query.ogg", synth("percussive", 5.0, seed=123))
    payload = _json(run_cli("similar", str(outside), "--library", str(lib), "-k", "3", "--json"))
    assert payload["query"]["kind"] == "file"
    assert payload["results"][0]["title"].startswith("percussive")
    filtered = _json(
        run_cli(
            "similar",
            str(outside),
            "--library",
            str(lib),
            "--where",
            "genre = 'Noise' AND year >= 2001",
            "--min-score",
            "-0.5",
            "--json",
        )
    )
    assert filtered["results"] and all(r["genre"] == "Noise" and r["year"] >= 2001 for r in filtered["results"])
    assert all(r["score"] >= -0.5 for r in filtered["results"])
    strict = _json(run_cli("similar", str(outside), "--library", str(lib), "--min-score", "0.999", "--json"))
    assert strict["results"] == []


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("genre = ", "invalid --where expression"),
        ("colour = 'red'", "unknown field 'colour'"),
        ("year = 'x'", "holds number values"),
    ],
)
def test_invalid_where_is_a_clear_error(indexed, where, message):
    music, lib = indexed
    res = run_cli("similar", str(music / "tonal" / "tonal_1.flac"), "--library", str(lib), "--where", where)
    assert res.returncode == 2
    assert message in " ".join(res.stderr.split())
    assert "Traceback" not in res.stderr


def test_tracks_info_stats(indexed):
    _music, lib = indexed
    rows = _json(run_cli("tracks", "--library", str(lib), "--where", "genre IN ('Chirp', 'Noise')", "--json"))
    assert len(rows) == 6 and {r["genre"] for r in rows} == {"Chirp", "Noise"}
    info = _json(run_cli("info", rows[0]["id"], "--library", str(lib), "--json"))
    assert (
        info["views"]
        == {
            "sound": "fused@3",
            "melody": "melody@1",
            "words": "words@2",
            "fingerprint": "chromaprint@1",
            "landmarks": "landmarks@1",
        }
        and info["path"] == rows[0]["path"]
    )
    assert not any(k.startswith(("vec_", "raw_")) for k in info)
    assert "ana_sound_segments" not in info and "ana_sound_set" not in info  # numbers for set matching
    stats = _json(run_cli("stats", "--library", str(lib), "--json"))
    assert (
        stats["tracks"] == 13
        and stats["views"] == {"sound": 889, "melody": 256, "words": 384, "fingerprint": 512}
        and stats["raw_dims"] == stats["views"]  # 13 tracks: too few for the sound view's projection
        and stats["failed"] == 0
    )
    res = run_cli("info", "no-such-track", "--library", str(lib))
    assert res.returncode == 2 and "no indexed track" in res.stderr


def test_unknown_target_and_missing_library(indexed, tmp_path):
    _, lib = indexed
    res = run_cli("similar", "nothing-like-this", "--library", str(lib))
    assert res.returncode == 2 and "neither a track id" in res.stderr
    res = run_cli("tracks", "--library", str(tmp_path / "none"))
    assert res.returncode == 2 and "no library" in res.stderr
    res = run_cli("index", str(tmp_path / "missing-folder"), "--library", str(tmp_path / "l2"))
    assert res.returncode == 2 and "no such file or folder" in res.stderr


def test_a_library_path_that_is_a_file_is_a_clear_error(indexed, tmp_path):
    music, _ = indexed
    afile = tmp_path / "a-file"
    afile.write_text("")
    for args, words in (
        (("index", str(music), "--library", str(afile)), "is a file, not a folder"),
        (("index", str(music), "--library", str(afile / "lib")), "part of its path is a file"),
        (("tracks", "--library", str(afile)), "is a file, not a folder"),
    ):
        res = run_cli(*args)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-1500:]
        assert words in " ".join(res.stderr.split()), res.stderr


def test_a_text_file_named_mp3_as_a_query_is_one_line(indexed, tmp_path):
    """mpg123 used to print "Note: Hit end of (available) data during resync." above the error."""
    _, lib = indexed
    notes = tmp_path / "notes.mp3"
    notes.write_text("hello, this is a shopping list, not a song\n" * 20)
    for command in ("similar", "hum"):
        res = run_cli(command, str(notes), "--library", str(lib), env={"TONEARM_BACKGROUND": "0"})
        assert res.returncode == 2 and res.stderr.strip() == "error: not audio (a text file)", res.stderr


def test_stats_failed_lists_bad_files(tmp_path):
    music = tmp_path / "m"
    write_audio(music / "ok.flac", synth("tonal", 3.0))
    (music / "broken.mp3").write_bytes(b"ID3" + b"\x00" * 100)
    lib = tmp_path / "lib"
    res = run_cli("index", str(music), "--library", str(lib), "-j", "1")
    assert res.returncode == 0 and "1 failed" in res.stdout
    failed = _json(run_cli("stats", "--failed", "--library", str(lib), "--json"))
    assert [f["path"].rsplit("/", 1)[-1] for f in failed] == ["broken.mp3"]
    assert failed[0]["reason"]
