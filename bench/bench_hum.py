"""Query-by-humming at scale: latency on a 10k-track library, and melody analysis throughput.

The library is the demo library's real rows (rendered tunes, indexed normally) plus
synthetic distractor rows: random melodic walks (steps more likely than leaps, as in folk
tunes) stored exactly as the melody analyzer stores rows. Hummed queries of demo tunes are
searched against it; we report latency p50/p95 and MRR with the distractors present.

    python bench/bench_hum.py [--rows 10000] [--queries 40] [--out bench-out]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from tonearm.analyzers import get_analyzer
from tonearm.analyzers.melody import NoteEvent, encode_notes, intervals, ngram_vector
from tonearm.audio.segments import load_for_analysis
from tonearm.demo import build_demo_audio
from tonearm.eval.hum import hum, random_style
from tonearm.eval.symbolic import STYLE_BPM, STYLES, select_tunes
from tonearm.library.indexer import Indexer
from tonearm.search.hum import hum_search
from tonearm.store import open_store
from tonearm.store.base import raw_column, vector_column


def synthetic_notes(rng: np.random.Generator, n: int) -> list[NoteEvent]:
    steps = rng.choice([-7, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 7], size=n - 1,
                       p=[0.02, 0.05, 0.05, 0.08, 0.15, 0.15, 0.15, 0.15, 0.08, 0.05, 0.05, 0.02])  # fmt: skip
    pitches = 60 + np.concatenate([[0], np.cumsum(steps)])
    pitches = 60 + (pitches - 60) % 24  # keep a singable range
    t = np.cumsum(rng.uniform(0.15, 0.6, n))
    return [NoteEvent(float(a), 0.2, float(p)) for a, p in zip(t, pitches, strict=True)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--out", default="bench-out")
    args = ap.parse_args()
    out = Path(args.out)
    audio_dir = out / "demo-audio"
    build_demo_audio(audio_dir, 96)
    # Melody analysis throughput, per core (single process).
    analyzer = get_analyzer("melody")
    files = sorted(audio_dir.rglob("*.flac"))[:30]
    audio = [load_for_analysis(f, analyzer.sample_rate) for f in files]
    t0 = time.perf_counter()
    for a in audio:
        analyzer.analyze(a)
    melody_x_rt = sum(a.analysed_seconds for a in audio) / (time.perf_counter() - t0)
    lib = out / "hum-library"
    shutil.rmtree(lib, ignore_errors=True)
    store = open_store(str(lib))
    Indexer(store, {"melody": "melody"}).run([str(audio_dir)], workers=2)
    real = store.count()
    rng = np.random.default_rng(0)
    batch = []
    t0 = time.perf_counter()
    for i in range(args.rows - real):
        notes = synthetic_notes(rng, int(rng.integers(60, 400)))
        vec = ngram_vector(intervals(notes))
        batch.append({"id": f"synthetic{i:08d}", "path": f"/synthetic/{i}.flac", "title": f"synthetic {i}",
                      vector_column("melody"): vec, raw_column("melody"): vec, "ana_melody_notes": encode_notes(notes),
                      "views_json": json.dumps({"melody": analyzer.key})})  # fmt: skip
        if len(batch) == 2000:
            store.upsert(batch)
            batch = []
    store.upsert(batch)
    store.optimize()
    fill_s = time.perf_counter() - t0
    tunes = {t.tune_id: t for s in STYLES for t in select_tunes(s, 16, seed=0)}
    rows = sorted(store.scan(columns=["id", "path", "tune_id", "style"]), key=lambda r: r["path"])
    rows = [r for r in rows if r.get("tune_id")]
    latencies, rr = [], []
    qpath = out / "query.wav"
    for _ in range(args.queries):
        r = rows[int(rng.integers(len(rows)))]
        tune = tunes[r["tune_id"]]
        start = int(rng.integers(0, max(1, len(tune.melody) // 3)))
        seg = list(tune.melody[start : start + int(rng.integers(10, 17))])
        sf.write(str(qpath), hum(seg, min(STYLE_BPM[r["style"]], 130), random_style(rng), rng), 16000)
        t0 = time.perf_counter()
        res = hum_search(store, str(qpath), k=10)
        latencies.append(time.perf_counter() - t0)
        ids = [x["id"] for x in res["results"]]
        rr.append(1 / (ids.index(r["id"]) + 1) if r["id"] in ids else 0.0)
    result = {
        "library_rows": store.count(),
        "real_rows": real,
        "synthetic_fill_seconds": round(fill_s, 1),
        "queries": args.queries,
        "hum_latency_ms_p50": round(1000 * float(np.percentile(latencies, 50)), 1),
        "hum_latency_ms_p95": round(1000 * float(np.percentile(latencies, 95)), 1),
        "mrr_at_10_with_distractors": round(float(np.mean(rr)), 3),
        "melody_analysis_x_realtime_per_core": round(melody_x_rt, 1),
    }
    print(json.dumps(result, indent=2))
    (out / "bench_hum.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
