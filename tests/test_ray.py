"""Distributed analysis on Ray: a local cluster on 127.0.0.1, started and stopped by the test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from tonearm.library.engines import MAX_ATTEMPTS, RayEngine
from tonearm.library.indexer import Indexer
from tonearm.library.worker import Job, run_job
from tonearm.store import open_store
from tonearm.store.base import raw_column

ray = pytest.importorskip("ray", reason="install the ray test extra")
RAY = str(Path(sys.executable).with_name("ray"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> str:
    port = 6400 + os.getpid() % 500
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    temp = tmp_path_factory.mktemp("ray")
    start = [RAY, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
             "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"]  # fmt: skip
    subprocess.run(start, check=True, env=env, capture_output=True, timeout=120)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=120)


def test_index_on_ray_matches_local_and_reports_failures(cluster: str, music_dir: Path, tmp_path: Path) -> None:
    media = tmp_path / "media"
    shutil.copytree(music_dir, media)
    (media / "broken.mp3").write_bytes(b"ID3" + os.urandom(2000))
    remote = tmp_path / "ray"
    res = run_cli("index", str(media), "--library", str(remote), "--views", "sound=dsp", "-j", "2",
                  "--engine", "ray", "--address", cluster, "--json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["added"] == 12 and [Path(f["path"]).name for f in report["failed"]] == ["broken.mp3"]
    store = open_store(str(remote))
    rows = {Path(r["path"]).name: r for r in store.scan()}
    assert len(rows) == 12 and [Path(f["path"]).name for f in store.failures()] == ["broken.mp3"]
    for name in ("tonal_0.flac", "chirp_2.flac"):  # the same analysis as in a local worker
        local = run_job(Job(rows[name]["path"], {"sound": "dsp", "melody": "melody"}))
        assert np.allclose(rows[name][raw_column("sound")], local.raw["sound"], atol=1e-5)
        assert np.allclose(rows[name][raw_column("melody")], local.raw["melody"], atol=1e-5)


def test_crashed_actor_is_retried_then_reported(cluster: str, music_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "crashed-once"
    always = "percussive_1"

    def flaky(job: Job):  # pickled by value into the actors
        if "tonal_0" in job.path and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the actor process dies mid-job
        if always in job.path:
            os._exit(1)
        return run_job(job)

    files = sorted(str(p) for p in music_dir.rglob("*.flac"))
    jobs = [Job(p, {"sound": "dsp"}) for p in files if "tonal_0" in p or always in p or "chirp_0" in p]
    ray.init(address=cluster, log_to_driver=False)
    try:
        results = {Path(j.path).stem: r for j, r in RayEngine(cluster, fn=flaky).run(jobs, 2)}
    finally:
        ray.shutdown()
    assert results["tonal_0"].error is None and results["tonal_0"].raw  # retried on a restarted actor
    assert results["chirp_0"].error is None
    assert results[always].error == f"analysis worker crashed on this file {MAX_ATTEMPTS} times"


def test_store_receives_ray_results_in_any_backend(cluster: str, music_dir: Path, postgres_url: str) -> None:
    url = f"{postgres_url}{'&' if '?' in postgres_url else '?'}library=ray_lib"
    store = open_store(url)
    report = Indexer(store, {"sound": "dsp"}).run([str(music_dir)], workers=2, engine=RayEngine(cluster))
    assert report.added == 12 and store.count() == 12 and not report.failed


def test_bad_engine_and_unreachable_cluster_are_clear(tmp_path: Path, music_dir: Path) -> None:
    res = run_cli("index", str(music_dir), "--library", str(tmp_path / "l"), "--engine", "spark")
    assert res.returncode == 2 and "unknown engine" in res.stderr
    res = run_cli("index", str(music_dir), "--library", str(tmp_path / "l"), "--engine", "ray",
                  "--address", "127.0.0.1:1", timeout=120)  # fmt: skip
    assert res.returncode == 2 and "cannot start or reach Ray" in res.stderr
