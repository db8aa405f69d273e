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


def test_moved_and_retagged_in_one_go_keeps_the_track(tmp_path: Path) -> None:
    """What beets (move + write) or Picard (save and move) do: new folder, new name, new tags, new size."""
    import mutagen

    from tonearm.store import listening

    music, lib = tmp_path / "music", tmp_path / "lib"
    songs = {}
    for i, (kind, seconds) in enumerate((("tonal", 5.0), ("percussive", 6.0), ("chirp", 7.0))):
        songs[kind] = write_audio(music / "inbox" / f"track{i}.flac", synth(kind, seconds, seed=i),
                                  tags={"title": f"untitled {i}"})  # fmt: skip
    _index(lib, music)
    before = _rows(lib)
    ids = {k: before[str(p)]["id"] for k, p in songs.items()}
    store = open_store(str(lib))
    listening.set_starred(store, [ids["tonal"]], True)
    listening.create_playlist(store, "Kept", list(ids.values()), "tonearm")
    store.close()
    for i, (kind, path) in enumerate(songs.items()):
        size = path.stat().st_size
        f = mutagen.File(str(path))
        f["title"], f["artist"], f["album"] = f"Song {kind}", "The Band", "First Album"
        f["comment"] = "tagged by the tagger " * 600 * (i + 1)  # more than the FLAC padding: a new size
        f.save()
        dest = music / "The Band" / "First Album" / f"0{i + 1} Song {kind}.flac"
        dest.parent.mkdir(parents=True, exist_ok=True)
        path.rename(dest)
        assert dest.stat().st_size != size
    report = _index(lib, music)
    assert (report.moved, report.added, report.removed, len(report.failed)) == (3, 0, 0, 0)
    after = {r["id"]: r for r in _rows(lib).values()}
    assert set(after) == set(ids.values())  # every track kept its id ...
    for kind, tid in ids.items():
        assert after[tid]["title"] == f"Song {kind}" and after[tid]["path"].endswith(f"Song {kind}.flac")
        assert np.array_equal(after[tid][raw_column("sound")], before[str(songs[kind])][raw_column("sound")])
    store = open_store(str(lib))
    assert ids["tonal"] in listening.starred(store)  # ... so stars and playlists still name them
    assert next(iter(listening.playlists(store).values()))["entries"] == list(ids.values())
    store.close()
    _check_is_clean(lib)


def test_two_vanished_tracks_of_one_length_are_not_guessed_between(tmp_path: Path) -> None:
    from tonearm.library.moves import pair_moves
    from tonearm.library.scan import FileStat

    music = tmp_path / "music"
    new = write_audio(music / "new" / "x.flac", synth("tonal", 5.0))
    rows = {
        str(music / "old" / f"{n}.flac"): {"id": n, "path": str(music / "old" / f"{n}.flac"), "size": 1,
                                           "content_hash": "h", "ana_audio_hash": "a", "duration": 5.01}
        for n in ("a", "b")
    }  # fmt: skip
    stat = FileStat(str(new), new.stat().st_size, new.stat().st_mtime_ns)
    assert pair_moves([stat], rows, {str(new)}, [str(music)]) == {}  # a coin toss could cost the other its id
    rows[str(music / "old" / "b.flac")]["duration"] = 7.0
    assert pair_moves([stat], rows, {str(new)}, [str(music)])[str(new)]["id"] == "a"
    # the nearest claim wins over all files, not the first file's: "a-other" (5.3 s) must not take a's row
    other = write_audio(music / "new" / "a-other.flac", synth("noise", 5.3))
    stats = [FileStat(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in (other, new)]
    pairs = pair_moves(stats, rows, {str(new), str(other)}, [str(music)])
    assert {p: r["id"] for p, r in pairs.items()} == {str(new): "a"}


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
