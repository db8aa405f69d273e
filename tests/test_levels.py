"""Playback levelling: BS.1770 integrated loudness, the gain it gives, and its cache in the library."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import synth, write_audio

from tonearm.audio import loudness
from tonearm.audio.loudness import LEVEL_RATE, file_loudness, integrated_loudness
from tonearm.library import levels
from tonearm.library.indexer import Indexer
from tonearm.library.levels import HEADROOM_DB, MAX_BOOST_DB, TARGET_LUFS, gain_db, playback_level
from tonearm.store import open_store


def _sine(amplitude: float, seconds: float = 5.0, freq: float = 1000.0, sr: int = LEVEL_RATE) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


def test_a_sine_reads_as_bs1770_says_and_silence_is_gated_out() -> None:
    # BS.1770: a 1 kHz sine at -20 dBFS in both channels reads -20 LUFS (the mono downmix counts as both)
    lufs, peak = integrated_loudness(iter([_sine(0.1)]))
    assert lufs == pytest.approx(-20.0, abs=0.05) and peak == pytest.approx(0.1, abs=1e-4)
    split = integrated_loudness(iter([_sine(0.1)[:77777], _sine(0.1)[77777:]]))[0]  # blocks join seamlessly
    assert split == pytest.approx(lufs, abs=1e-6)
    padded = integrated_loudness(iter([np.concatenate([_sine(0.1), np.zeros(5 * LEVEL_RATE, np.float32)])]))[0]
    assert padded == pytest.approx(lufs, abs=0.3)  # the silent half is under the gates
    assert integrated_loudness(iter([_sine(0.01)]))[0] == pytest.approx(-40.0, abs=0.05)
    bass, treble = (integrated_loudness(iter([_sine(0.1, freq=f)]))[0] for f in (60.0, 4000.0))
    assert bass < lufs - 1.0 and treble > lufs + 2.0  # K-weighting: bass counts less, presence more
    assert integrated_loudness(iter([np.zeros(LEVEL_RATE, np.float32)])) == (None, 0.0)
    assert integrated_loudness(iter([_sine(0.1, seconds=0.2)]))[0] == pytest.approx(-20.0, abs=0.2)  # one block


def test_files_at_other_rates_and_layouts_read_the_same(tmp_path: Path) -> None:
    sf.write(tmp_path / "a.flac", _sine(0.1, sr=44100), 44100)
    sf.write(tmp_path / "b.wav", np.stack([_sine(0.1), _sine(0.1)], axis=1), LEVEL_RATE)
    for name in ("a.flac", "b.wav"):
        assert file_loudness(tmp_path / name)[0] == pytest.approx(-20.0, abs=0.1), name


def test_stereo_channels_are_measured_apart_not_from_a_downmix(tmp_path: Path) -> None:
    # BS.1770 sums the channels' powers: a sine in antiphase reads as loud as in phase (a mono downmix
    # would cancel it to silence), and one speaker alone reads 3 dB under both.
    s = _sine(0.1, sr=44100)
    sf.write(tmp_path / "antiphase.flac", np.stack([s, -s], axis=1), 44100)
    sf.write(tmp_path / "left.flac", np.stack([s, 0 * s], axis=1), 44100)
    antiphase, peak = file_loudness(tmp_path / "antiphase.flac")
    assert antiphase == pytest.approx(-20.0, abs=0.1) and peak == pytest.approx(0.1, abs=1e-3)
    assert file_loudness(tmp_path / "left.flac")[0] == pytest.approx(-23.01, abs=0.1)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg command (make system-deps)")
@pytest.mark.parametrize("suffix", ["flac", "m4a"])
def test_stereo_loudness_agrees_with_ffmpeg_ebur128(tmp_path: Path, suffix: str) -> None:
    # an independent implementation of the same standard, on two different sounds in two channels
    sr = 44100
    left, right = 0.3 * synth("tonal", 8.0, sr=sr), 0.2 * synth("percussive", 8.0, sr=sr, seed=3)
    wav = tmp_path / "wide.wav"
    sf.write(wav, np.stack([left, right], axis=1), sr)
    path = tmp_path / f"wide.{suffix}"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), str(path)], check=True)
    report = subprocess.run(
        ["ffmpeg", "-nostats", "-hide_banner", "-i", str(path), "-af", "ebur128", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    reference = float(re.findall(r"I:\s+(-?[\d.]+) LUFS", report)[-1])
    assert file_loudness(path)[0] == pytest.approx(reference, abs=0.3)


def test_gain_reaches_the_target_without_clipping() -> None:
    assert gain_db(-20.0, 0.1) == pytest.approx(TARGET_LUFS + 20.0)  # 0.1 peak has room for +6 dB
    assert gain_db(-8.0, 1.0) == pytest.approx(TARGET_LUFS + 8.0)  # a loud master is turned down
    assert gain_db(-30.0, 0.5) == pytest.approx(-20 * np.log10(0.5) - HEADROOM_DB, abs=0.01)  # its peak stops it
    assert gain_db(-60.0, 0.001) == MAX_BOOST_DB
    assert gain_db(None, 0.0) == 0.0


def test_the_level_is_measured_once_per_file_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    media = tmp_path / "m"
    song = write_audio(media / "a.flac", 0.2 * synth("tonal", 4.0))
    store = open_store(str(tmp_path / "lib"))
    Indexer(store, {"sound": "dsp"}).run([str(media)], workers=1)
    track = store.find_by_path(str(song))["id"]
    calls: list[str] = []
    real = loudness.file_loudness
    monkeypatch.setattr(levels, "file_loudness", lambda p: calls.append(str(p)) or real(p))
    first = playback_level(store, track)
    assert playback_level(store, track) == first and len(calls) == 1  # kept with the library
    assert first["gain_db"] == gain_db(first["lufs"], first["peak"]) and first["target_lufs"] == TARGET_LUFS
    write_audio(song, 0.9 * synth("tonal", 4.0))  # new bytes: indexed again, measured again
    Indexer(store, {"sound": "dsp"}).run([str(media)], workers=1)
    louder = playback_level(store, track)
    assert len(calls) == 2 and louder["lufs"] > first["lufs"] + 10 and louder["gain_db"] < first["gain_db"]
    kept = store.state(levels.LEVELS_KIND, [track])[track]
    store.put_state(levels.LEVELS_KIND, {track: {**kept, "method": levels.METHOD - 1}})  # kept by an older tonearm
    assert playback_level(store, track) == louder and len(calls) == 3  # measured again, the new way


def test_replaygain_tags_stand_in_for_a_measurement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    media = tmp_path / "m"
    gains = {"replaygain_track_gain": "-6.50 dB", "replaygain_track_peak": "0.95"}
    tagged = write_audio(media / "tagged.flac", 0.2 * synth("tonal", 3.0), tags=gains)
    half = write_audio(media / "half.flac", 0.2 * synth("tonal", 3.0, seed=2), tags={"replaygain_track_gain": "-1 dB"})
    store = open_store(str(tmp_path / "lib"))
    Indexer(store, {"sound": "dsp"}).run([str(media)], workers=1)
    calls: list[str] = []
    real = loudness.file_loudness
    monkeypatch.setattr(levels, "file_loudness", lambda p: calls.append(str(p)) or real(p))
    level = playback_level(store, store.find_by_path(str(tagged))["id"])
    assert (level["lufs"], level["peak"], level["source"]) == (-11.5, 0.95, "tags") and not calls  # -18 LUFS - gain
    assert level["gain_db"] == gain_db(-11.5, 0.95)
    assert playback_level(store, store.find_by_path(str(half))["id"])["source"] == "measured"  # a gain alone may clip
    assert len(calls) == 1


def test_album_loudness_is_the_power_mean_over_time() -> None:
    from tonearm.library.level_pass import album_loudness, gain_for

    assert album_loudness([(-12.0, 200.0), (-12.0, 100.0)]) == pytest.approx(-12.0)
    assert album_loudness([(-10.0, 60.0), (-20.0, 60.0)]) == pytest.approx(10 * np.log10((0.1 + 0.01) / 2))
    assert album_loudness([(-10.0, 10.0), (-20.0, 290.0)]) < -18.0  # a short loud track moves it little
    assert album_loudness([]) is None and gain_for(-9.44) == -8.56  # ReplayGain 2.0: to -18 LUFS


def test_a_levels_pass_measures_what_has_no_level_and_resumes(tmp_path: Path) -> None:
    from tonearm.library.level_pass import level_coverage, measure_library

    media = tmp_path / "m"
    for i in range(4):
        write_audio(media / f"p{i}.flac", (0.05 * (i + 1)) * synth("tonal", 3.0, seed=i))
    tagged = write_audio(media / "tagged.flac", 0.2 * synth("chirp", 3.0),
                         tags={"replaygain_track_gain": "-2 dB", "replaygain_track_peak": "0.5"})  # fmt: skip
    store = open_store(str(tmp_path / "lib"))
    Indexer(store, {"sound": "dsp"}).run([str(media)], workers=1)

    class StopAfter:  # Ctrl-C after the second track: what was measured is kept
        def __init__(self) -> None:
            self.seen = 0

        def start(self, total: int) -> None:
            assert total == 4  # the tagged file is not measured

        def advance(self, path: str, status: str) -> None:
            self.seen += 1
            if self.seen == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        measure_library(store, workers=1, progress=StopAfter())
    by_path = {r["path"]: r["id"] for r in store.scan(columns=["id", "path"])}
    first = store.state(levels.LEVELS_KIND)
    assert len(first) == 2
    broken = next(i for i in range(4) if by_path[str(media / f"p{i}.flac")] not in first)
    (media / f"p{broken}.flac").write_bytes(b"not audio any more")  # damaged since it was indexed
    report = measure_library(store, workers=2)
    assert (report.measured, report.known, report.tagged, len(report.failed)) == (1, 2, 1, 1)
    assert report.failed[0][0].endswith(f"p{broken}.flac")
    kept = store.state(levels.LEVELS_KIND)
    good = [i for i in range(4) if i != broken]
    lufs = [kept[by_path[str(media / f"p{i}.flac")]]["lufs"] for i in good]
    for (i, a), (j, b) in zip(zip(good, lufs, strict=True), zip(good[1:], lufs[1:], strict=True), strict=False):
        assert b - a == pytest.approx(20 * np.log10((j + 1) / (i + 1)), abs=0.2)  # louder by the amplitude ratio
    assert by_path[str(tagged)] not in kept
    again = measure_library(store, workers=2)
    assert (again.measured, again.known, len(again.failed)) == (0, 3, 1)  # the damaged one still fails
    assert level_coverage(store) == {"from_tags": 1, "measured": 3, "without": 1}  # what `tonearm stats` shows
    # from now on an index run measures what it adds
    fresh = write_audio(media / "new.flac", 0.3 * synth("tonal", 3.0, seed=9))
    added = Indexer(store, {"sound": "dsp"}).run([str(media)], workers=1)
    assert (added.added, added.levels_measured) == (1, 1)
    assert store.find_by_path(str(fresh))["id"] in store.state(levels.LEVELS_KIND)
    assert any("loudness not measured" in w and f"p{broken}.flac" in w for w in added.warnings)


def test_players_get_measured_track_and_album_gains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx
    from conftest import run_cli, serve_library

    from tonearm.library.level_pass import album_loudness, gain_for

    media = tmp_path / "m"
    for i in range(3):
        write_audio(media / f"{i}.flac", (0.1 * (i + 1)) * synth("tonal", 3.0, seed=i),
                    tags={"album": "Harbour", "artist": "Band", "title": f"Song {i}"})  # fmt: skip
    lib = tmp_path / "lib"
    Indexer(open_store(str(lib)), {"sound": "dsp"}).run([str(media)], workers=1)
    res = run_cli("levels", "-l", str(lib), "-j", "2", "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["measured"] == 3, res.stderr
    monkeypatch.setenv("TONEARM_SUBSONIC_SECRET", "levels-secret")
    proc, base = serve_library(lib, media, "--subsonic")
    try:
        auth = {"u": "tonearm", "p": "levels-secret", "v": "1.16.1", "c": "pytest", "f": "json"}
        albums = httpx.get(f"{base}/rest/getAlbumList2", params={**auth, "type": "newest"}).json()
        album_id = albums["subsonic-response"]["albumList2"]["album"][0]["id"]
        songs = httpx.get(f"{base}/rest/getAlbum", params={**auth, "id": album_id}).json()["subsonic-response"]
        songs = songs["album"]["song"]
    finally:
        proc.kill()
        proc.communicate()
    kept = open_store(str(lib), create=False).state(levels.LEVELS_KIND)
    by_title = {r["title"]: r for r in open_store(str(lib), create=False).scan(columns=["id", "title", "duration"])}
    album = gain_for(album_loudness([(kept[r["id"]]["lufs"], r["duration"]) for r in by_title.values()]))
    for s in songs:
        measured = kept[by_title[s["title"]]["id"]]
        assert s["replayGain"] == {"trackGain": gain_for(measured["lufs"]), "trackPeak": measured["peak"],
                                   "albumGain": album, "albumPeak": max(m["peak"] for m in kept.values())}  # fmt: skip
