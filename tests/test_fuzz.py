"""Hostile and odd files (a fixed seeded subset of the fuzzer), worker deaths and the per-file time limit:
every file is indexed or failed with a reason, and the run always finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli, synth, write_audio

from tonearm.eval.fuzz import MUTATIONS, make_cases
from tonearm.store import open_store


def _accounted(lib: Path) -> tuple[set[str], dict[str, str]]:
    store = open_store(str(lib), create=False)
    return {r["path"] for r in store.scan(columns=["path"])}, {f["path"]: f["reason"] for f in store.failures()}


def test_every_fuzzed_file_is_indexed_or_failed_with_a_reason(tmp_path):
    cases = make_cases(tmp_path / "music", 49, seed=7)  # 7 per mutation, one per format, plus the special files
    assert {c.kind for c in cases} >= set(MUTATIONS) | {"fifo", "symlink_loop", "non_utf8_name"}
    lib = tmp_path / "lib"
    res = run_cli("index", str(tmp_path / "music"), "-l", str(lib), "-j", "2", "--json", timeout=600)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr[-3000:]
    report = json.loads(res.stdout)
    indexed, failed = _accounted(lib)
    for case in cases:
        shown = os.fsencode(case.path).decode("utf-8", "backslashreplace")
        assert str(case.path) in indexed or shown in failed, (case.kind, case.path)
    assert report["added"] == len(indexed) and len(report["failed"]) == len(failed)
    for reason in failed.values():
        assert reason and "\n" not in reason and "Traceback" not in reason and len(reason) <= 240
    by_kind = {c.kind: str(c.path) for c in cases}
    assert failed[by_kind["fifo"]] == "not a regular file (a named pipe)"
    assert "symbolic link loop" in failed[by_kind["symlink_loop"]]
    assert "not valid UTF-8" in " ".join(r for p, r in failed.items() if "\\xff" in p)
    assert by_kind["long_name"] in indexed and by_kind["odd_name"] in indexed  # legal names are indexed
    # What was indexed answers queries; a re-run analyses nothing again.
    some = sorted(indexed)[0]
    assert run_cli("similar", some, "-l", str(lib), "--json").returncode == 0
    again = json.loads(run_cli("index", str(tmp_path / "music"), "-l", str(lib), "--json").stdout)
    assert again["added"] == again["updated"] == 0
    assert again["skipped_failed"] + len(again["failed"]) == len(failed)


def test_a_file_past_the_time_limit_fails_and_the_run_goes_on(tmp_path):
    music = tmp_path / "music"
    for i in range(2):
        write_audio(music / f"{i}.flac", synth("tonal", 12.0, seed=i))
    lib = tmp_path / "lib"
    # A limit far below what analysing 30 s of audio takes: each file runs into it, in real time.
    res = run_cli("index", str(music), "-l", str(lib), "-j", "2", "--json", env={"TONEARM_FILE_TIMEOUT": "0.02"})
    assert res.returncode == 0, res.stderr
    failed = json.loads(res.stdout)["failed"]
    assert len(failed) == 2 and all("per-file time limit" in f["reason"] for f in failed), failed
    ok = run_cli("index", str(music), "-l", str(lib), "-j", "2", "--retry-failed", "--json")
    assert json.loads(ok.stdout)["added"] == 2


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_a_worker_killed_mid_run_costs_no_file(tmp_path):
    """The OOM killer (or anyone) kills an analysis worker: the files it held are retried alone and indexed."""
    music = tmp_path / "music"
    for i in range(6):
        write_audio(music / f"{i}.flac", synth(("tonal", "chirp")[i % 2], 20.0, seed=i))
    lib = tmp_path / "lib"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tonearm.cli", "index", str(music), "-l", str(lib), "-j", "2", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    victim = None
    deadline = time.time() + 120
    while victim is None and time.time() < deadline and proc.poll() is None:
        workers = [p for p in _children(proc.pid) if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]
        if len(workers) >= 2 and (lib / "tracks.lance").exists() and open_store(str(lib)).count() >= 1:
            victim = workers[0]
        time.sleep(0.2)
    if victim is None:
        proc.kill()
        pytest.fail("the index run finished before a worker could be killed")
    os.kill(victim, signal.SIGKILL)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    report = json.loads(out)
    stored = {r["path"] for r in open_store(str(lib)).scan(columns=["path"])}
    # Once in about 40 CI runs a file was missing with no failure reported (not reproduced since): say which,
    # and what the run reported, so that the next occurrence explains itself.
    missing = sorted({str(p) for p in music.iterdir()} - stored)
    assert report["failed"] == [] and not missing, {"missing": missing, "report": report, "stderr": err[-1500:]}


def test_permission_denied_files_and_folders_are_failures_with_reasons(tmp_path):
    """Run as root without the capabilities that let root read anything (as a plain user would be)."""
    import shutil

    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or not setpriv:
        pytest.skip("needs root and setpriv to drop root's read-anything capabilities")
    music = tmp_path / "music"
    for name in ("open.flac", "closed.flac", "locked/inside.flac"):
        write_audio(music / name, synth("tonal", 4.0))
    (music / "closed.flac").chmod(0)
    (music / "locked").chmod(0)
    lib = tmp_path / "lib"
    drop = "-dac_override,-dac_read_search"
    res = subprocess.run([setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}", "--", sys.executable, "-m",
                          "tonearm.cli", "index", str(music), "-l", str(lib), "--json"],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    (music / "locked").chmod(0o755)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["added"] == 1
    assert {f["path"]: f["reason"] for f in report["failed"]} == {
        str(music / "closed.flac"): "permission denied",
        str(music / "locked"): "folder cannot be read (permission denied)",
    }
