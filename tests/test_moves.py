"""A file that moved or was renamed keeps its track: same id, same analysis, no second analysis."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from conftest import run_cli, synth, write_audio

from tonearm.library.indexer import Indexer
from tonearm.store import open_store
from tonearm.store.base import raw_column
from tonearm.store.identity import track_id

VIEWS = {"sound": "dsp", "fingerprint": "chromaprint", "landmarks": "landmarks"}


def _index(lib: Path, *roots: Path, **kw):
    store = open_store(str(lib))
    try:
        return Indexer(store, VIEWS).run([str(r) for r in roots], workers=1, **kw)
    finally:
        store.close()


def _rows(lib: Path) -> dict[str, dict]:
    store = open_store(str(lib))
    try:
        return {r["path"]: r for r in store.scan()}
    finally:
        store.close()


def _write(path: Path, kind: str, seed: int) -> Path:
    write_audio(path, synth(kind, 5.0, seed=seed, f0=160 + 30 * seed))
    return path


def _check_is_clean(lib: Path) -> None:
    res = run_cli("check", "-l", str(lib), "--no-files")
    assert res.returncode == 0, res.stdout + res.stderr


def test_a_moved_and_renamed_folder_keeps_ids_and_analysis(tmp_path: Path) -> None:
    music, lib = tmp_path / "music", tmp_path / "lib"
    for i, kind in enumerate(("tonal", "percussive", "noise")):
        _write(music / "old" / f"{kind}.wav", kind, i)
    first = _index(lib, music)
    assert first.added == 3
    before = _rows(lib)
    (music / "old").rename(music / "new")
    (music / "new" / "noise.wav").rename(music / "new" / "renamed.wav")  # a new name too: paired by its mtime
    report = _index(lib, music)
    assert (report.moved, report.added, report.updated, report.removed, len(report.failed)) == (3, 0, 0, 0, 0)
    assert report.analysis_cpu_seconds == 0.0  # nothing analysed again
    after = _rows(lib)
    moved = {"tonal.wav": "tonal.wav", "percussive.wav": "percussive.wav", "noise.wav": "renamed.wav"}
    for old_name, new_name in moved.items():
        old, new = before[str(music / "old" / old_name)], after[str(music / "new" / new_name)]
        assert new["id"] == old["id"] and new["added_at"] == old["added_at"]
        assert np.array_equal(new[raw_column("sound")], old[raw_column("sound")])
    assert len(after) == 3
    _check_is_clean(lib)  # landmark postings and duplicate groups still match the rows


def test_a_file_moved_outside_the_indexed_folder_is_found_where_it_went(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    src = _write(tmp_path / "old-disk" / "song.wav", "tonal", 0)
    _index(lib, tmp_path / "old-disk")
    tid = _rows(lib)[str(src)]["id"]
    (tmp_path / "new-disk").mkdir()
    shutil.move(str(src), tmp_path / "new-disk" / "song.wav")
    report = _index(lib, tmp_path / "new-disk")  # only the new place is indexed
    assert (report.moved, report.added) == (1, 0)
    assert {p: r["id"] for p, r in _rows(lib).items()} == {str(tmp_path / "new-disk" / "song.wav"): tid}


def test_a_new_file_at_a_moved_tracks_old_path_is_another_track(tmp_path: Path) -> None:
    music, lib = tmp_path / "music", tmp_path / "lib"
    first = _write(music / "a.wav", "tonal", 0)
    _index(lib, music)
    first.rename(music / "b.wav")
    assert _index(lib, music).moved == 1  # b.wav keeps the id made from a.wav's path
    _write(music / "a.wav", "noise", 5)
    report = _index(lib, music)
    assert (report.added, report.moved, report.removed) == (1, 0, 0)
    rows = _rows(lib)
    assert rows[str(music / "b.wav")]["id"] == track_id(str(music / "a.wav"))
    assert rows[str(music / "a.wav")]["id"] != rows[str(music / "b.wav")]["id"]  # not written over
    _check_is_clean(lib)
    assert _index(lib, music).unchanged == 2


def test_same_size_other_bytes_is_analysed_as_new(tmp_path: Path) -> None:
    music, lib = tmp_path / "music", tmp_path / "lib"
    gone = _write(music / "one.wav", "tonal", 0)
    _index(lib, music)
    old_id = _rows(lib)[str(gone)]["id"]
    size = gone.stat().st_size
    gone.unlink()
    other = _write(music / "two.wav", "percussive", 3)  # the only vanished row of its size: paired, then refuted
    assert other.stat().st_size == size
    report = _index(lib, music)
    assert (report.added, report.moved, report.removed) == (1, 0, 1)
    assert report.analysis_cpu_seconds > 0
    assert {r["id"] for r in _rows(lib).values()} == {track_id(str(other))} != {old_id}


def test_keep_missing_keeps_the_old_row_and_moves_nothing(tmp_path: Path) -> None:
    music, lib = tmp_path / "music", tmp_path / "lib"
    src = _write(music / "x" / "song.wav", "tonal", 0)
    _index(lib, music)
    os.makedirs(music / "y")
    src.rename(music / "y" / "song.wav")
    report = _index(lib, music, keep_missing=True)
    assert (report.added, report.moved, report.removed) == (1, 0, 0)
    assert set(_rows(lib)) == {str(music / "x" / "song.wav"), str(music / "y" / "song.wav")}


def test_disks_outside_the_run_are_looked_at_only_for_files_of_a_matching_size(monkeypatch) -> None:
    """An unmounted network share holding other tracks must not stall an ordinary run (a stat can hang)."""
    from tonearm.library import moves
    from tonearm.library.scan import FileStat

    looked: list[str] = []
    monkeypatch.setattr(moves.os.path, "lexists", lambda p: looked.append(p) or False)
    existing = {
        "/share/a.flac": {"id": "a", "path": "/share/a.flac", "size": 100, "mtime_ns": 1, "content_hash": "h1"},
        "/share/b.flac": {"id": "b", "path": "/share/b.flac", "size": 200, "mtime_ns": 2, "content_hash": "h2"},
        "/music/c.flac": {"id": "c", "path": "/music/c.flac", "size": 300, "mtime_ns": 3, "content_hash": "h3"},
    }
    new = [FileStat("/music/new/b.flac", 200, 9), FileStat("/music/new/z.flac", 300, 9)]
    pairs = moves.pair_moves(new, existing, on_disk={"/music/new/b.flac", "/music/new/z.flac"}, roots=["/music"])
    assert looked == ["/share/b.flac"]
    assert {p: r["id"] for p, r in pairs.items()} == {"/music/new/b.flac": "b", "/music/new/z.flac": "c"}
    assert moves.pair_moves(new, existing, set(), ["/music"], outside=False).keys() == {"/music/new/z.flac"}
