"""Analysis throughput on Ray with 1 vs 2 workers (actors), against the local process pool.

    python bench/bench_ray.py --tracks 24 --seconds 30 --out bench/results/ray.json

Renders ``--tracks`` synthetic pieces (melody over a pulse, each different), then indexes them
into fresh libraries with the default views: local engine with 2 workers, Ray with 1 actor and
with 2 actors (a local Ray cluster started once on 127.0.0.1 with 2 CPUs). Reports wall time
and seconds of audio per wall second, and the 2-vs-1 speed-up (ideal 2.0 on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050


def piece(seed: int, seconds: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    note = int(0.25 * SR)
    t = np.arange(note) / SR
    env = np.exp(-t * 6)
    out = []
    for p in 57 + rng.choice([0, 2, 3, 5, 7, 8, 10, 12], size=int(seconds / 0.25)):
        f = 440 * 2 ** ((p - 69) / 12)
        out.append(env * sum(np.sin(2 * np.pi * f * h * t) / h for h in (1, 2, 3)))
    y = np.concatenate(out)
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def index_once(media: Path, engine, workers: int) -> dict:
    from tonearm.library.indexer import Indexer
    from tonearm.store import open_store

    lib = Path(tempfile.mkdtemp(prefix="tonearm-raybench-"))
    try:
        t0 = time.perf_counter()
        report = Indexer(open_store(str(lib))).run([str(media)], workers=workers, engine=engine)
        wall = time.perf_counter() - t0
    finally:
        shutil.rmtree(lib, ignore_errors=True)
    assert not report.failed, report.failed
    return {"wall_s": wall, "audio_s": report.audio_seconds, "audio_s_per_wall_s": report.audio_seconds / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=24)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    from tonearm.library.engines import LocalEngine, RayEngine

    media = Path(tempfile.mkdtemp(prefix="tonearm-raymedia-"))
    ray_bin = str(Path(sys.executable).with_name("ray"))
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    port = 6500 + os.getpid() % 400
    start = [ray_bin, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
             "--include-dashboard=false", "--disable-usage-stats"]  # fmt: skip
    subprocess.run(start, check=True, env=env, capture_output=True)
    try:
        for i in range(args.tracks):
            sf.write(str(media / f"piece{i:03d}.flac"), piece(i, args.seconds), SR)
        address = f"127.0.0.1:{port}"
        results = {"tracks": args.tracks, "seconds_each": args.seconds, "cores": os.cpu_count()}
        results["local_2_workers"] = index_once(media, LocalEngine(), 2)
        results["ray_1_actor"] = index_once(media, RayEngine(address), 1)
        results["ray_2_actors"] = index_once(media, RayEngine(address), 2)
        results["ray_speedup_2_vs_1"] = (
            results["ray_2_actors"]["audio_s_per_wall_s"] / results["ray_1_actor"]["audio_s_per_wall_s"]
        )
        results["ray_2_vs_local_2"] = (
            results["ray_2_actors"]["audio_s_per_wall_s"] / results["local_2_workers"]["audio_s_per_wall_s"]
        )
    finally:
        subprocess.run([ray_bin, "stop", "--force"], env=env, capture_output=True)
        shutil.rmtree(media, ignore_errors=True)
    print(json.dumps(results, indent=2))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
