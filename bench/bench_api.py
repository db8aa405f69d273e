"""HTTP request latency on the demo library: similar by id, similar by upload, text search, hum.

Starts ``tonearm serve`` (real uvicorn) on the demo library (``make demo`` builds it, or pass
``--library``), sends requests one at a time, and prints p50/p95 per endpoint. Hummed queries are
synthesised from the demo tunes' melodies (tonearm/eval/hum.py).

    python bench/bench_api.py [--library demo-data/library] [--n 40]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf
from serving import tonearm_server

from tonearm.eval.hum import hum, random_style
from tonearm.eval.symbolic import STYLE_BPM, STYLES, select_tunes
from tonearm.store import open_store


def _stats(ms: list[float]) -> dict[str, float]:
    return {
        "n": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--library", default="demo-data/library")
    ap.add_argument("--n", type=int, default=40)
    args = ap.parse_args()
    store = open_store(args.library, create=False)
    rows = sorted(store.scan(columns=["id", "path", "tune_id", "style"]), key=lambda r: r["path"])
    rng = np.random.default_rng(0)
    with tonearm_server(args.library) as base:
        client = httpx.Client(base_url=base, timeout=120)
        out: dict[str, dict] = {}

        def timed(name: str, fn) -> None:
            ms = []
            for i in range(args.n):
                t0 = time.perf_counter()
                r = fn(i)
                ms.append(1000 * (time.perf_counter() - t0))
                assert r.status_code == 200, (name, r.status_code, r.text[:200])
            out[name] = _stats(ms)

        picks = [rows[int(j)] for j in rng.permutation(len(rows))[: args.n]]
        timed("similar by id (sound)", lambda i: client.get(f"/api/tracks/{picks[i]['id']}/similar?k=10"))
        timed("similar by id (melody)", lambda i: client.get(f"/api/tracks/{picks[i]['id']}/similar?k=10&view=melody"))
        texts = ["a calm piano piece", "fast violin", "a jig on the flute", "sad and slow", "Chorale", "no vocals",
                 "happy dance music", "a german folk song", "guitar", "quiet harpsichord"]  # fmt: skip
        for mode in ("tags", "words", "auto"):
            timed(
                f"search ({mode})", lambda i, m=mode: client.get("/api/search", params={"q": texts[i % 10], "mode": m})
            )
        uploads = [Path(picks[i]["path"]).read_bytes() for i in range(min(args.n, 20))]
        timed("similar by upload (30 s FLAC)", lambda i: client.post(
            "/api/similar", files={"file": ("q.flac", uploads[i % len(uploads)])}))  # fmt: skip
        tunes = {t.tune_id: t for s in STYLES for t in select_tunes(s, 16, seed=0)}
        hums = []
        for r in [r for r in picks if r.get("tune_id") in tunes][:20]:
            tune = tunes[r["tune_id"]]
            seg = list(tune.melody[: int(rng.integers(10, 17))])
            buf = io.BytesIO()
            sf.write(buf, hum(seg, min(STYLE_BPM[r["style"]], 130), random_style(rng), rng), 16000, format="WAV")
            hums.append(buf.getvalue())
        timed("hum (upload)", lambda i: client.post("/api/hum", files={"file": ("h.wav", hums[i % len(hums)])}))
        print(json.dumps({"tracks": len(rows), "cpu_count": os.cpu_count(), "latency": out}, indent=2))


if __name__ == "__main__":
    main()
