"""Duplicate recordings: fingerprint pass, collapse in every list, `tonearm duplicates`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SR, run_cli, synth, write_audio

from tonearm.analyzers.chromaprint import is_distinctive, raw_fingerprint
from tonearm.library.duplicates import MAX_BIT_ERRORS, bit_error_rate, duplicate_groups
from tonearm.library.indexer import Indexer
from tonearm.search import dedupe
from tonearm.search.radio import RadioSettings, radio, song_path
from tonearm.search.similar import similar
from tonearm.store import open_store

VIEWS = {"sound": "dsp", "fingerprint": "chromaprint"}


def tune(seed: int, seconds: float = 12.0, tempo: float = 1.0, bright: float = 1.0) -> np.ndarray:
    """A random melody over a drum pulse: changing harmony, so Chromaprint has something to read.

    The same ``seed`` with another ``tempo``/``bright`` is another recording of the same tune.
    """
    rng = np.random.default_rng(seed)
    note_s = 0.25 / tempo
    n_notes = int(seconds / note_s)
    pitches = 57 + rng.choice([0, 2, 3, 5, 7, 8, 10, 12], size=n_notes)
    t = np.arange(int(note_s * SR)) / SR
    env = np.exp(-t * 6)
    notes = []
    for p in pitches:
        f = 440 * 2 ** ((p - 69) / 12)
        notes.append(env * sum(np.sin(2 * np.pi * f * h * t) * bright**h / h for h in (1, 2, 3, 4)))
    y = np.concatenate(notes)
    hits = np.zeros_like(y)
    beat = int(0.5 * SR / tempo)
    noise = np.random.default_rng(seed + 1).standard_normal(y.size)
    for start in range(0, y.size, beat):
        n = min(2000, y.size - start)
        hits[start : start + n] = noise[start : start + n] * np.exp(-np.arange(n) / 300)
    y = y + 0.3 * hits
    return (0.6 * y / np.max(np.abs(y))).astype(np.float32)


def test_reencodes_agree_and_other_recordings_do_not(tmp_path: Path) -> None:
    from tonearm.audio.segments import load_for_analysis

    src = write_audio(tmp_path / "a.flac", tune(1))
    prints = {}
    for name, y in {"a.flac": None, "a.mp3": None, "version.flac": tune(1, tempo=1.1, bright=0.5),
                    "other.flac": tune(2)}.items():  # fmt: skip
        path = src if name == "a.flac" else tmp_path / name
        if name == "a.mp3":
            write_audio(path, load_for_analysis(str(src), SR).segments[0])
        elif y is not None:
            write_audio(path, y)
        audio = load_for_analysis(str(path), 11025)
        prints[name] = raw_fingerprint(audio.segments[0], 11025)
        assert is_distinctive(prints[name])
    same, _, overlap = bit_error_rate(prints["a.flac"], prints["a.mp3"])
    assert same < 0.05 and overlap > 0.95
    # Another recording of the same tune stays well above the threshold; another tune near 0.5.
    assert bit_error_rate(prints["a.flac"], prints["version.flac"])[0] > MAX_BIT_ERRORS + 0.05
    assert bit_error_rate(prints["a.flac"], prints["other.flac"])[0] > 0.3
    silence = raw_fingerprint(np.zeros(SR * 5, np.float32), 11025)
    assert not is_distinctive(silence)


def test_long_tracks_compare_through_their_analysis_windows(tmp_path: Path) -> None:
    """Past two minutes only windows are analysed; a re-encode still lines up with its original."""
    from tonearm.analyzers.chromaprint import ChromaprintAnalyzer
    from tonearm.audio.segments import load_for_analysis
    from tonearm.library.duplicates import compare

    y = tune(5, seconds=150.0)
    rows = {}
    for name in ("long.flac", "long.mp3", "other.flac"):
        path = write_audio(tmp_path / name, tune(6, seconds=150.0) if name == "other.flac" else y)
        audio = load_for_analysis(str(path), 22050)
        assert len(audio.segments) > 1  # windowed
        out = ChromaprintAnalyzer().run(audio)
        rows[name] = {"id": name, "duration": audio.info.duration, **out.fields}
    match = compare(rows["long.flac"], rows["long.mp3"])
    assert match.same and match.bit_errors < 0.05
    assert not compare(rows["long.flac"], rows["other.flac"]).same


@pytest.mark.parametrize("kind", ["noise", "chirp", "percussive"])
def test_structureless_signals_are_never_merged(kind: str, tmp_path: Path) -> None:
    """White noise of other seeds, or sweeps a few semitones apart, share many chroma bits: not a copy."""
    from tonearm.analyzers.chromaprint import ChromaprintAnalyzer
    from tonearm.audio.segments import load_for_analysis
    from tonearm.library.duplicates import compare

    rows = []
    for j in range(3):
        path = write_audio(tmp_path / f"{kind}{j}.flac", synth(kind, 6.0, seed=j, f0=180 + 40 * j))
        out = ChromaprintAnalyzer().run(load_for_analysis(str(path), 22050))
        rows.append({"id": str(j), "duration": 6.0, **out.fields})
    for j in (1, 2):
        assert not compare(rows[0], rows[j]).same, compare(rows[0], rows[j])


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """6 recordings (one of them a version of another), 4 of them also as re-encodes; two silent files."""
    root = tmp_path_factory.mktemp("dups")
    media = root / "media"
    for i in range(5):
        write_audio(media / f"song{i}.flac", tune(10 + i), tags={"title": f"song {i}", "artist": f"artist{i}"})
    live = tune(10, tempo=0.9, bright=0.6)  # another recording of song 0: must stay apart
    write_audio(media / "song0_live.flac", live, tags={"title": "song 0 (live)", "artist": "artist0"})
    for i, ext in ((0, "mp3"), (0, "ogg"), (1, "m4a"), (2, "mp3")):
        write_audio(media / f"copies/song{i}.{ext}", tune(10 + i), tags={"title": f"song {i}", "artist": f"artist{i}"})
    write_audio(media / "silence_a.wav", np.zeros(SR * 6, np.float32))
    write_audio(media / "silence_b.wav", np.zeros(SR * 7, np.float32))
    write_audio(media / "silence_c.wav", np.zeros(SR * 7, np.float32))  # same bytes as b: a copy
    path = root / "lib"
    Indexer(open_store(str(path)), VIEWS).run([str(media)], 2)
    return path, media


def _groups(store) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for g in duplicate_groups(store):
        keeper = Path(g["files"][0]["path"])
        out[keeper.name] = {Path(f["path"]).relative_to(keeper.parent).as_posix() for f in g["files"]}
    return out


def test_groups_found_with_the_lossless_copy_kept(lib: tuple[Path, Path]) -> None:
    store = open_store(str(lib[0]))
    groups = _groups(store)
    assert groups == {
        "song0.flac": {"song0.flac", "copies/song0.mp3", "copies/song0.ogg"},
        "song1.flac": {"song1.flac", "copies/song1.m4a"},
        "song2.flac": {"song2.flac", "copies/song2.mp3"},
        "silence_b.wav": {"silence_b.wav", "silence_c.wav"},
    }  # the live version, other songs and silent files of other lengths are never merged
    for g in duplicate_groups(store):
        assert g["files"][0]["keeper"] and all(f["bit_errors"] <= MAX_BIT_ERRORS for f in g["files"][1:])


def _row(store, name: str) -> dict:
    return next(r for r in store.scan() if r["path"].endswith("/" + name))


def test_every_list_collapses_copies(lib: tuple[Path, Path]) -> None:
    store = open_store(str(lib[0]))
    seed = _row(store, "song0.flac")
    groups = {r["id"]: r.get("dup_group") or r["id"] for r in store.scan(columns=["id", "dup_group"])}
    for query in (seed["id"], str(lib[1] / "copies/song0.mp3")):
        res = similar(store, query, k=20)["results"]
        keys = [groups[r["id"]] for r in res]
        assert len(keys) == len(set(keys))  # one file per recording
        assert seed["id"] not in keys  # never the query's own recording, from any copy
        assert len(res) == 7  # 8 recordings (silent files included) but itself
    out = radio(store, [seed["id"]], settings=RadioSettings(length=20, seed=1, artist_window=1))["results"]
    keys = [groups[r["id"]] for r in out]
    assert len(keys) == len(set(keys)) and seed["id"] not in keys
    a, b = _row(store, "song1.flac"), _row(store, "song3.flac")
    path = song_path(store, a["id"], b["id"], steps=6)["results"]
    keys = [groups[r["id"]] for r in path]
    assert len(keys) == len(set(keys)) and a["id"] not in keys and b["id"] not in keys
    assert dedupe.collapse([{"id": "x", "dup_group": "g"}, {"id": "y", "dup_group": "g"}, {"id": "z"}]) == [
        {"id": "x", "dup_group": "g"},
        {"id": "z"},
    ]


def test_duplicates_over_the_api(lib: tuple[Path, Path]) -> None:
    from fastapi.testclient import TestClient

    from tonearm.api.app import ServerConfig, create_app

    client = TestClient(create_app(ServerConfig(library=str(lib[0]))))
    groups = client.get("/api/duplicates").json()["groups"]
    assert len(groups) == 4 and all(g["files"][0]["keeper"] for g in groups)
    seed = client.get("/api/tracks", params={"where": "title = 'song 0'", "limit": 10}).json()
    keeper = next(t for t in seed["tracks"] if t["path"].endswith("song0.flac"))
    radio = client.get("/api/radio", params={"seed": keeper["id"], "length": 5, "rng_seed": 1}).json()
    assert not any(r["title"] == "song 0" for r in radio["results"])  # none of its copies


def test_duplicates_cli_and_incremental_updates(lib: tuple[Path, Path], tmp_path: Path) -> None:
    lib_path = tmp_path / "lib"
    media = tmp_path / "media"
    shutil.copytree(lib[1], media)
    store = open_store(str(lib_path))
    Indexer(store, VIEWS).run([str(media)], 2)
    res = run_cli("duplicates", "--library", str(lib_path), "--json")
    assert res.returncode == 0, res.stderr
    assert len(json.loads(res.stdout)["groups"]) == 4
    # A new copy joins its group; the keeper's file goes away: the group remains, with a new keeper.
    write_audio(media / "more/song3.mp3", tune(13))
    (media / "song0.flac").unlink()
    Indexer(store, VIEWS).run([str(media)], 1)
    groups = {frozenset(Path(f["path"]).name for f in g["files"]): g for g in duplicate_groups(store)}
    assert frozenset({"song3.flac", "song3.mp3"}) in groups
    song0 = groups[frozenset({"song0.mp3", "song0.ogg"})]
    files = song0["files"]
    assert files[0]["keeper"] and files[0]["kbps"] >= max(f["kbps"] for f in files) - 1  # the best copy kept
    res = run_cli("duplicates", "--library", str(lib_path))
    assert res.returncode == 0 and "recordings in several files" in res.stdout
