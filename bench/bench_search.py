"""Text search latency: ``tonearm search`` per call (CLI, cold and warm) and the HTTP API per mode.

The library is the eval's mood song set (18 songs with lyrics sidecars and popularity, words
view; :mod:`tonearm.eval.moodsongs`) unless ``--library`` names another. "Cold" is a first call
with an empty ``$TONEARM_CACHE`` (constant embeddings are computed and cached); "warm" are the
calls after it, answered by the CLI process itself (``TONEARM_BACKGROUND=0``); "served" are CLI calls
made while a ``tonearm serve`` of the library runs (the server answers them, see tonearm/cli/running.py);
"background" are the calls after a first one that found no server and started the quiet background
server (``tonearm.cli.running.start_background``), as a user's second and later searches are.
In the same run, the wall time of ``python -c "import lancedb"`` is measured as the floor any
process that opens an embedded library pays.

    python bench/bench_search.py [--library L] [--calls 6] [--requests 40] [--out bench/results/search.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from serving import tonearm_server

QUERIES = {
    "mood": ["ha muerto mi perro y estoy muy triste", "I'm so happy today, everything is wonderful",
             "angry music for when I'm mad at everyone", "echo de menos los tiempos de mi infancia"],
    "words": ["a song about a funeral in the rain", "canciones sobre el verano", "the night is long", "miedo"],
    "tags": ["calm piano", "happy dance music", "no vocals", "sad and slow"],
    "auto": ["songs about missing the old days", "estoy furioso", "a quiet evening by the river", "champions"],
}  # fmt: skip


def _stats(seconds: list[float]) -> dict[str, float]:
    ms = 1000 * np.asarray(seconds)
    return {"n": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1)}  # fmt: skip


def _wall(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... failed: {proc.stderr.strip()[-300:]}")
    return time.perf_counter() - t0


def cli_latency(library: str, calls: int, label: str = "warm", cold: bool = True, background: str = "0") -> dict:
    """Wall time of whole ``tonearm search`` processes, per mode (the first call of a fresh cache is "cold")."""
    out: dict[str, dict] = {}
    tonearm = [sys.executable, "-m", "tonearm.cli"]
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, TONEARM_CACHE=cache, TONEARM_BACKGROUND=background)
        if cold:
            floor = [_wall([sys.executable, "-c", "import lancedb"], env) for _ in range(3)]
            out["import lancedb (floor)"] = _stats(floor)
        for n, (mode, texts) in enumerate(QUERIES.items()):
            walls = [_wall([*tonearm, "search", texts[i % len(texts)], "--mode", mode, "-l", library, "--json"], env)
                     for i in range(calls)]  # fmt: skip
            if n == 0 and cold:
                out["cold (first call, empty cache)"] = {"mode": mode, "s": round(walls[0], 3)}
            out[f"{label} {mode}"] = _stats(walls[1:])
    return out


def served_latency(library: str, requests: int, calls: int) -> tuple[dict, dict]:
    """With ``tonearm serve`` running: API requests per mode, and CLI calls (which the server answers)."""
    api: dict[str, dict] = {}
    with tonearm_server(library) as base:
        client = httpx.Client(base_url=base, timeout=120)
        for mode, texts in QUERIES.items():
            client.get("/api/search", params={"q": texts[0], "mode": mode})  # first request loads the models
            times = []
            for i in range(requests):
                t0 = time.perf_counter()
                r = client.get("/api/search", params={"q": texts[i % len(texts)] + f" {i}", "mode": mode})
                times.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise SystemExit(f"/api/search {mode}: HTTP {r.status_code} {r.text[:200]}")
            api[mode] = _stats(times)
        cli = cli_latency(library, calls, "served", cold=False)
    return api, cli


def background_latency(library: str, calls: int) -> dict:
    """CLI calls after a first one that started the background server; the server is stopped afterwards."""
    import signal

    announcement = Path(library) / ".tonearm-serve.json"
    tonearm = [sys.executable, "-m", "tonearm.cli", "search", "-l", library, "--json"]
    env = dict(os.environ, TONEARM_BACKGROUND="1")
    first = _wall([*tonearm, QUERIES["mood"][0], "--mode", "mood"], env)
    answered = time.time()
    deadline = answered + 120
    while not announcement.exists() and time.time() < deadline:
        time.sleep(0.1)
    if not announcement.exists():
        raise SystemExit("the background server did not announce itself within 120 s")
    started = time.time() - answered
    try:
        out = cli_latency(library, calls, "background", cold=False, background="1")
    finally:
        pid = json.loads(announcement.read_text())["pid"]
        os.kill(pid, signal.SIGTERM)
        while announcement.exists() and time.time() < deadline + 60:
            time.sleep(0.1)
    return {"background: first call (answers itself, starts the server)": {"s": round(first, 3)},
            "background: server ready after the first call (s)": round(started, 1), **out}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library")
    ap.add_argument("--calls", type=int, default=6)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        library = args.library
        if library is None:
            from tonearm.eval.moodsongs import write_song_library
            from tonearm.library.indexer import Indexer
            from tonearm.store import open_store

            paths = write_song_library(Path(tmp) / "media")
            library = str(Path(tmp) / "library")
            Indexer(open_store(library), {"words": "words"}).run([str(p) for p in paths], workers=1)
        local = cli_latency(library, args.calls)
        api, served = served_latency(library, args.requests, args.calls)
        background = background_latency(library, args.calls)
        result = {"library": args.library or "eval mood song set (18 songs)", "cpu_count": os.cpu_count(),
                  "cli": {**local, **served, **background}, "api": api}  # fmt: skip
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
