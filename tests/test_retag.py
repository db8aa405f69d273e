"""A retagged file (new bytes, same audio) keeps what was computed from its audio; views reading tags are redone."""

from __future__ import annotations

import os
from pathlib import Path

import mutagen
import numpy as np
from conftest import synth, write_audio

from tonearm.library.indexer import AUDIO_HASH, Indexer
from tonearm.store import open_store
from tonearm.store.base import raw_column

VIEWS = {"sound": "dsp", "melody": "melody", "words": "words", "landmarks": "landmarks"}


def _index(lib: Path, root: Path):
    store = open_store(str(lib))
    try:
        return Indexer(store, VIEWS).run([str(root)], workers=1)
    finally:
        store.close()


def _row(lib: Path, path: Path) -> dict:
    store = open_store(str(lib))
    try:
        row = store.find_by_path(str(path))
        assert row is not None
        return row
    finally:
        store.close()


def _retitle(path: Path, title: str) -> None:
    f = mutagen.File(str(path))
    f["title"] = title
    f.save()


def test_new_tags_on_the_same_audio_redo_only_the_views_that_read_them(tmp_path: Path) -> None:
    music, lib = tmp_path / "music", tmp_path / "lib"
    song = music / "song.flac"
    write_audio(song, synth("tonal", 6.0, seed=1), tags={"title": "Before", "artist": "Band"})
    _index(lib, music)
    before = _row(lib, song)
    assert before[AUDIO_HASH]
    _retitle(song, "A title about rain and umbrellas")
    report = _index(lib, music)
    assert (report.updated, report.retagged, report.added) == (1, 1, 0)
    after = _row(lib, song)
    assert after["title"] == "A title about rain and umbrellas" and after["content_hash"] != before["content_hash"]
    assert after[AUDIO_HASH] == before[AUDIO_HASH] and after["id"] == before["id"]
    for view in ("sound", "melody"):  # computed from the audio alone: kept as they were
        assert np.array_equal(after[raw_column(view)], before[raw_column(view)])
    assert not np.array_equal(after[raw_column("words")], before[raw_column("words")])  # the title is in it


def test_new_audio_is_analysed_again(tmp_path: Path) -> None:
    music, lib = tmp_path / "music", tmp_path / "lib"
    song = music / "song.flac"
    write_audio(song, synth("tonal", 6.0, seed=1), tags={"title": "Same"})
    _index(lib, music)
    before = _row(lib, song)
    write_audio(song, synth("percussive", 6.0, seed=2), tags={"title": "Same"})
    report = _index(lib, music)
    assert (report.updated, report.retagged) == (1, 0)
    after = _row(lib, song)
    assert after[AUDIO_HASH] != before[AUDIO_HASH]
    assert not np.array_equal(after[raw_column("sound")], before[raw_column("sound")])


def test_a_track_analysed_before_audio_digests_is_analysed_once_more_then_remembered(tmp_path: Path) -> None:
    music, lib = tmp_path / "music", tmp_path / "lib"
    song = music / "song.flac"
    write_audio(song, synth("chirp", 6.0, seed=3), tags={"title": "One"})
    _index(lib, music)
    store = open_store(str(lib))
    row = store.find_by_path(str(song))
    store.upsert([{**row, AUDIO_HASH: None}])  # as a library indexed by an earlier tonearm holds it
    store.close()
    _retitle(song, "Two")
    first = _index(lib, music)
    assert (first.updated, first.retagged) == (1, 0)  # nothing to compare with: analysed, digest stored
    _retitle(song, "Three")
    second = _index(lib, music)
    assert (second.updated, second.retagged) == (1, 1)


def test_tags_read_by_a_newer_tonearm_reach_files_that_did_not_change(tmp_path: Path) -> None:
    """A library indexed before tonearm read comment tags gets them at its next run, without new bytes."""
    from tonearm.library.metadata import TAG_READER
    from tonearm.library.tag_recheck import CHECKED_KIND, TAG_READER_META
    from tonearm.search.text import TextQuery, search

    music, lib = tmp_path / "music", tmp_path / "lib"
    notes = music / "notes.flac"
    write_audio(notes, synth("tonal", 4.0, seed=1), tags={"title": "Episode 7"})
    plain = write_audio(music / "plain.flac", synth("chirp", 4.0, seed=2), tags={"title": "Interlude"})
    _index(lib, music)
    before = _row(lib, notes)
    # What an older tonearm left: a comment in the file it never read, and no reader stamp.
    st = notes.stat()
    f = mutagen.File(str(notes))
    f["comment"] = "How to grow tomatoes on a balcony, and what to compost"
    f.save()
    assert notes.stat().st_size == st.st_size  # the tag went into the FLAC padding
    os.utime(notes, ns=(st.st_atime_ns, st.st_mtime_ns))
    store = open_store(str(lib))
    store.set_meta(TAG_READER_META, TAG_READER - 1)
    store.close()

    report = _index(lib, music)
    assert (report.updated, report.unchanged, report.added) == (1, 1, 0)
    after = _row(lib, notes)
    assert after["comment"].startswith("How to grow") and after["id"] == before["id"]
    assert np.array_equal(after[raw_column("sound")], before[raw_column("sound")])  # the audio was not redone
    store = open_store(str(lib))
    try:
        hits = search(store, TextQuery("growing tomatoes on a balcony", k=1), "words")["results"]
        assert hits[0]["path"] == str(notes)
        assert store.get_meta(TAG_READER_META) != TAG_READER  # notes.flac is checked at the next run
        assert list(store.state(CHECKED_KIND)) == [_row(lib, plain)["id"]]
    finally:
        store.close()
    report = _index(lib, music)
    assert (report.updated, report.unchanged) == (0, 2)
    store = open_store(str(lib))
    try:
        assert store.get_meta(TAG_READER_META) == TAG_READER and store.state(CHECKED_KIND) == {}
    finally:
        store.close()


def test_a_tag_no_view_reads_refreshes_the_row_and_analyses_nothing(tmp_path: Path) -> None:
    """ReplayGain found by a newer tag reader: the row gets it, the words and landmark views are not redone."""
    from tonearm.library.metadata import TAG_READER
    from tonearm.library.tag_recheck import TAG_READER_META

    music, lib = tmp_path / "music", tmp_path / "lib"
    song = write_audio(music / "song.flac", synth("tonal", 4.0, seed=1), tags={"title": "Harbour"})
    _index(lib, music)
    before = _row(lib, song)
    st = song.stat()
    f = mutagen.File(str(song))
    f["replaygain_track_gain"], f["replaygain_track_peak"] = "-4.10 dB", "0.7"
    f.save()
    os.utime(song, ns=(st.st_atime_ns, st.st_mtime_ns))  # the tagger kept size and time: only the reader knows
    store = open_store(str(lib))
    store.set_meta(TAG_READER_META, TAG_READER - 1)
    store.close()

    report = _index(lib, music)
    assert (report.updated, report.metadata_refreshed) == (0, 1)
    after = _row(lib, song)
    assert (after["replaygain_track_gain"], after["replaygain_track_peak"]) == (-4.1, 0.7)
    assert after["analyzed_at"] == before["analyzed_at"] and after["views_json"] == before["views_json"]
    assert (after["title"], after["id"]) == ("Harbour", before["id"])
