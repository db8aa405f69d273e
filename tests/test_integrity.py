"""Damaged files: a container that promises more audio than decodes is a failure with a plain reason."""

from __future__ import annotations

import json
import os
import re
import subprocess

import numpy as np
import pytest
import soundfile as sf
from conftest import FFMPEG, SR, run_cli, synth, write_audio

from tonearm.audio import load_for_analysis
from tonearm.audio.decode import describe
from tonearm.audio.integrity import inspect, missing_tolerance, sniff
from tonearm.errors import DecodeError

# (file name, ffmpeg arguments); wav and flac are written by soundfile.
FORMATS = {
    "clip.wav": None,
    "clip.flac": None,
    "clip.aiff": [],
    "clip.ogg": ["-c:a", "libvorbis"],
    "clip.opus": ["-c:a", "libopus"],
    "clip.mp3": ["-c:a", "libmp3lame"],
    "clip.m4a": ["-c:a", "aac"],  # index (moov) at the end, as ffmpeg writes by default
    "faststart.m4a": ["-c:a", "aac", "-movflags", "+faststart"],  # index first, as streaming sites serve
    "clip.webm": ["-c:a", "libopus"],
}
UNREADABLE = re.compile(r"Errno|Error\(|Exception|Traceback|0x[0-9a-f]{6}|\[\d+\]")


def _make(folder, name: str, y: np.ndarray) -> object:
    path = folder / name
    args = FORMATS[name]
    if args is None:
        sf.write(str(path), y, SR)
    else:
        src = folder / f"{name}.src.wav"
        sf.write(str(src), y, SR)
        subprocess.run([FFMPEG, "-loglevel", "error", "-y", "-i", str(src), *args, str(path)], check=True)
        src.unlink()
    return path


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    if not FFMPEG:
        pytest.skip("ffmpeg not installed")
    root = tmp_path_factory.mktemp("whole")
    y = synth("tonal", 20.0)
    return {name: _make(root, name, y) for name in FORMATS}


@pytest.mark.parametrize("name", list(FORMATS))
def test_whole_files_load(originals, name):
    audio = load_for_analysis(originals[name], SR)
    assert audio.info.duration == pytest.approx(20.0, abs=0.2)
    assert inspect(originals[name]).problem is None


@pytest.mark.parametrize("name", list(FORMATS))
def test_a_file_cut_short_is_a_failure_with_its_reason(originals, name, tmp_path):
    data = originals[name].read_bytes()
    cut = tmp_path / name
    cut.write_bytes(data[: len(data) // 7])  # a half-finished download
    with pytest.raises(DecodeError) as err:
        load_for_analysis(cut, SR)
    reason = str(err.value)
    assert reason.startswith(("truncated", "incomplete")), reason
    assert not UNREADABLE.search(reason) and "\n" not in reason
    if name in ("clip.wav", "clip.flac", "clip.aiff", "clip.mp3", "faststart.m4a"):
        # The header states a length: the reason says how much of it is there.
        m = re.search(r"header says ([\d.]+) s, (?:about )?([\d.]+) s decodable", reason)
        assert m, reason
        assert float(m.group(1)) == pytest.approx(20.0, abs=0.2) and float(m.group(2)) < 5.0


def test_a_few_missing_milliseconds_are_tolerated(tmp_path):
    y = synth("tonal", 20.0)
    path = tmp_path / "nearly.wav"
    sf.write(str(path), y, SR, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - int(0.1 * SR) * 2])  # 0.1 s short of its header
    assert missing_tolerance(20.0) == pytest.approx(0.4)
    assert load_for_analysis(path, SR).info.duration == pytest.approx(19.9, abs=0.01)
    path.write_bytes(data[: len(data) - int(0.6 * SR) * 2])  # 0.6 s short: more than 2 %
    with pytest.raises(DecodeError, match=r"header says 20\.0 s, 19\.4 s decodable"):
        load_for_analysis(path, SR)


def test_a_long_file_cut_near_its_end_is_caught_by_the_tail_probe(tmp_path):
    # 150 s is analysed in windows that end at 95 %; the cut at 97 % lies beyond every window.
    path = tmp_path / "long.flac"
    sf.write(str(path), synth("tonal", 150.0, sr=8000), 8000)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.97)])
    assert inspect(path).declared_seconds == pytest.approx(150.0)
    with pytest.raises(DecodeError, match=r"truncated: header says 150\.0 s, about 14\d\.\d s decodable"):
        load_for_analysis(path, SR)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"this is not audio\n" * 50, "not audio (a text file)"),
        (np.random.default_rng(1).bytes(40000), "not audio (unrecognised format)"),
    ],
)
def test_not_audio_is_said_in_words(tmp_path, content, reason):
    path = tmp_path / "song.ogg"
    path.write_bytes(content)
    with pytest.raises(DecodeError) as err:
        load_for_analysis(path, SR)
    assert str(err.value) == reason


def test_sniffing_ignores_the_extension_and_random_frame_syncs():
    assert sniff(b"\xff\xe4\x22\x79" + bytes(2000)) == "unknown"  # one fake MPEG sync word is not an MP3
    assert sniff(b"plain words, in a file called song.mp3\n") == "text"
    assert sniff(b"fLaC\x00\x00\x00\x22") == "flac"


def test_os_errors_read_as_words():
    assert describe(PermissionError(13, "Permission denied")) == "permission denied"
    assert describe(FileNotFoundError(2, "No such file")) == "file not found (moved or deleted during the run?)"
    import av

    try:
        av.open("/nonexistent-dir/x.ogg")
    except Exception as exc:  # PyAV's own error types carry errno numbers in their text
        assert not UNREADABLE.search(describe(exc))


def test_index_run_reports_truncated_files_and_keeps_them_out(tmp_path, originals):
    music = tmp_path / "music"
    music.mkdir()
    for name in ("clip.wav", "clip.mp3", "clip.ogg", "faststart.m4a"):
        data = originals[name].read_bytes()
        (music / f"cut-{name}").write_bytes(data[: len(data) // 7])
    write_audio(music / "whole.flac", synth("chirp", 5.0))
    unreadable = music / "locked.flac"
    write_audio(unreadable, synth("tonal", 5.0))
    unreadable.chmod(0)
    lib = tmp_path / "lib"
    res = run_cli("index", str(music), "--library", str(lib), "--views", "sound=dsp", "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    failed = {f["path"].rsplit("/", 1)[-1]: f["reason"] for f in report["failed"]}
    as_root = os.geteuid() == 0  # root reads a mode-0 file; anyone else is refused
    assert report["added"] == (2 if as_root else 1) and len(failed) == (4 if as_root else 5)
    assert all(failed[f"cut-{n}"].startswith("truncated") for n in ("clip.wav", "clip.mp3", "clip.ogg",
                                                                     "faststart.m4a"))  # fmt: skip
    if "locked.flac" in failed:
        assert failed["locked.flac"] == "permission denied"
    assert not any(UNREADABLE.search(r) for r in failed.values())
    stats = run_cli("stats", "--failed", "--json", "--library", str(lib))
    listed = {f["path"].rsplit("/", 1)[-1]: f["reason"] for f in json.loads(stats.stdout)}
    assert listed == failed
    tracks = json.loads(run_cli("tracks", "--json", "--library", str(lib)).stdout)
    assert not any(t["path"].rsplit("/", 1)[-1].startswith("cut-") for t in tracks)
    # The download finishes: the changed file is tried again and indexed.
    (music / "cut-clip.wav").write_bytes(originals["clip.wav"].read_bytes())
    again = json.loads(run_cli("index", str(music), "--library", str(lib), "--views", "sound=dsp",
                               "--json").stdout)  # fmt: skip
    assert again["added"] == 1
    assert "cut-clip.wav" not in {f["path"].rsplit("/", 1)[-1] for f in again["failed"]}
