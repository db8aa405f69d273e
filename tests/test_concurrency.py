"""Crash safety and multi-process use: kill -9 then resume; queries during an index run; the lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import run_cli, synth, write_audio

from tonearm.store import open_store

DSP = ("--views", "sound=dsp")


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    root = tmp_path_factory.mktemp("many")
    kinds = ("tonal", "percussive", "noise", "chirp")
    for i in range(40):
        write_audio(root / f"{i:02d}.flac", synth(kinds[i % 4], 40.0, seed=i, f0=150 + 7 * i))
    return root


def _start_index(music, lib):
    return subprocess.Popen(
        # The cheap DSP sound view keeps this test about crash safety, not analysis speed.
        [sys.executable, "-m", "tonearm.cli", "index", str(music), "--library", str(lib), "-j", "1", *DSP],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # so the kill reaches the worker processes too
    )


def _wait_for_rows(lib, n, proc, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"index finished before the test could interrupt it: {proc.stderr.read()}")
        if (lib / "tracks.lance").exists():
            count = open_store(str(lib), create=False).count()
            if count >= n:
                return count
        time.sleep(0.2)
    pytest.fail("index run made no progress")


def test_kill_9_then_resume_has_no_duplicates_and_no_loss(many, tmp_path):
    lib = tmp_path / "lib"
    proc = _start_index(many, lib)
    seen = _wait_for_rows(lib, 5, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = open_store(str(lib), create=False).count()
    assert 5 <= seen <= partial < 40
    res = run_cli("index", str(many), "--library", str(lib), "-j", "2", "--json", *DSP)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["unchanged"] + report["added"] == 40
    assert report["added"] == 40 - report["unchanged"] and report["unchanged"] >= partial - 1
    store = open_store(str(lib), create=False)
    rows = list(store.scan(columns=["id", "path", "vec_sound"]))
    assert len(rows) == 40 and len({r["id"] for r in rows}) == 40 and len({r["path"] for r in rows}) == 40
    assert all(r["vec_sound"] is not None for r in rows)


def test_query_while_index_runs_and_second_writer_is_refused(many, tmp_path):
    lib = tmp_path / "lib"
    first = run_cli("index", str(many / "00.flac"), str(many / "01.flac"), str(many / "02.flac"),
                    "--library", str(lib), "-j", "1", *DSP)  # fmt: skip
    assert first.returncode == 0, first.stderr
    proc = _start_index(many, lib)
    try:
        _wait_for_rows(lib, 5, proc)
        # Start the query now, while the index run is known to be writing (it still holds the lock).
        query = subprocess.Popen(
            [sys.executable, "-m", "tonearm.cli", "similar", str(many / "00.flac"), "--library", str(lib),
             "-k", "3", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        other = run_cli("index", str(many), "--library", str(lib), *DSP)
        assert other.returncode == 2 and "being indexed by process" in other.stderr
        out, err = query.communicate(timeout=300)
        assert query.returncode == 0, err
        assert len(json.loads(out)["results"]) == 3
    finally:
        proc.wait(timeout=300)
    assert proc.returncode == 0
    assert open_store(str(lib), create=False).count() == 40


def test_two_servers_and_an_index_run_on_one_library_stay_consistent(many, tmp_path, monkeypatch):
    """Two `tonearm serve` processes (say, a web app and a Subsonic endpoint) and an index run share a library:
    each server sees the other's stars and the run's new tracks; nothing is lost or duplicated."""
    import httpx
    from conftest import serve_library

    from tonearm.store.listening import CACHE_SECONDS

    monkeypatch.setenv("TONEARM_SUBSONIC_SECRET", "shared")
    import shutil

    music = tmp_path / "music"
    music.mkdir()
    for i in range(14):
        shutil.copy(many / f"{i:02d}.flac", music)
    lib = tmp_path / "lib"
    first = run_cli("index", *(str(music / f"{i:02d}.flac") for i in range(4)), "--library", str(lib), *DSP)
    assert first.returncode == 0, first.stderr
    a, base_a = serve_library(lib, music, "--subsonic")
    b, base_b = serve_library(lib, music, "--subsonic")
    proc = _start_index(music, lib)
    auth = {"u": "tonearm", "p": "shared", "v": "1.16.1", "c": "test", "f": "json"}
    starred: set[str] = set()
    try:
        while proc.poll() is None or len(starred) < 6:
            ids = [t["id"] for t in httpx.get(f"{base_a}/api/tracks", params={"limit": 1000}).json()["tracks"]]
            new = [i for i in ids if i not in starred][:1]
            for tid in new:  # stars alternate between the two servers, while the index run commits
                if len(starred) % 2:
                    assert httpx.put(f"{base_a}/api/stars/{tid}").status_code == 200
                else:
                    ok = httpx.get(f"{base_b}/rest/star", params={**auth, "id": tid}).json()["subsonic-response"]
                    assert ok["status"] == "ok", ok
                starred.add(tid)
            assert httpx.get(f"{base_b}/rest/getAlbumList2", params={**auth, "type": "newest"}).status_code == 200
            if not new:
                time.sleep(0.3)
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
        time.sleep(CACHE_SECONDS + 0.5)  # a server sees another process's stars within this (by design)
        for base in (base_a, base_b):
            assert httpx.get(f"{base}/api/tracks", params={"limit": 1000}).json()["total"] == 14
            got = httpx.get(f"{base}/rest/getStarred2", params=auth).json()["subsonic-response"]["starred2"]
            assert {s["id"] for s in got.get("song", [])} == starred, base
    finally:
        for p in (a, b):
            p.kill()
        if proc.poll() is None:
            proc.kill()
    assert run_cli("check", "--library", str(lib)).returncode == 0
