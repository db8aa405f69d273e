"""Landmark fingerprints: analysis speed, what a 3-hour file costs, postings size, and query latency at 100k tracks.

* speed: peaks + packing of N rendered 30-s tunes on one core, with and without decoding
  (decode: FLAC at 22.05 kHz to 8 kHz), as seconds of audio per CPU second;
* a 3-hour file (the tunes concatenated, FLAC): wall time, CPU time and peak memory of the
  analyzer's streaming path, and the size of its packed peaks in the row;
* size: postings bytes and row bytes per hour of audio, for the library given with ``--library``
  (e.g. an eval library) or the rendered tunes;
* latency at scale: ``--tracks`` synthetic tracks of 3 minutes (100,000 by default) whose hashes
  are drawn from the hash distribution of the real library (so common hashes are as common as in
  music), in segments of 12,500 tracks, plus the real library's own tracks; then every query of
  ``--queries`` (10-s clips: the eval's QbE excerpts by default) is identified, decode excluded.
  Reports p50/p95 and R@1 (the synthetic tracks are distractors).

    python bench/bench_identify.py [--out bench-out] [--library LIB] [--tracks 100000] [--skip-scale]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from tonearm.analyzers import landmarks as L

HOUR_FRAMES = 3600 * L.FPS


def tunes(folder: Path, n: int) -> list[Path]:
    from tonearm.eval.render import INSTRUMENTS, Voice, render
    from tonearm.eval.symbolic import select_tunes

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, t in enumerate(select_tunes("reel", n, seed=21) + select_tunes("german_folk", n, seed=21)):
        if len(out) >= n:
            break
        path = folder / f"tune{i:03d}.flac"
        if not path.exists():
            inst = ("flute", "piano", "violin", "guitar", "clarinet")[i % 5]
            sf.write(str(path), render([Voice(t.melody, INSTRUMENTS[inst])], 120, loop_to=30, max_seconds=30), 22050)
        out.append(path)
    return out


def speed(paths: list[Path]) -> dict:
    from tonearm.audio.decode import load

    audio = [load(p, L.SR) for p in paths]
    seconds = sum(y.size for y in audio) / L.SR
    L.pack(*L.peaks(audio[0]))  # warm up (imports, FFT plans) outside the timing
    t0 = time.process_time()
    for y in audio:
        t, f = L.peaks(y)
        L.pack(t, f)
    analysis = time.process_time() - t0
    t0 = time.process_time()
    for p in paths:
        t, f = L.peaks(load(p, L.SR))
        L.pack(t, f)
    with_decode = time.process_time() - t0
    return {"files": len(paths), "audio_s": round(seconds), "x_realtime_analysis": round(seconds / analysis, 1),
            "x_realtime_with_decode": round(seconds / with_decode, 1)}  # fmt: skip


def three_hours(paths: list[Path], out: Path) -> dict:
    """The streaming path on a 3-hour file, in a child process (its own peak memory)."""
    path = out / "three-hours.flac"
    if not path.exists():
        with sf.SoundFile(str(path), "w", 22050, 1, format="FLAC") as f:
            written = 0
            while written < 3 * 3600 * 22050:
                for p in paths:
                    y, _ = sf.read(str(p), dtype="float32")
                    f.write(y)
                    written += y.size
    code = (
        "import resource, time, json, sys\n"
        "from tonearm.analyzers.landmarks import LandmarkAnalyzer\n"
        "from tonearm.analyzers.base import TrackContext\n"
        "from tonearm.audio.segments import load_for_analysis\n"
        f"p = {str(path)!r}\n"
        "w0, c0 = time.perf_counter(), time.process_time()\n"
        "audio = load_for_analysis(p, 8000)\n"
        "out = LandmarkAnalyzer().run(audio, TrackContext(p))\n"
        "print(json.dumps({'wall_s': round(time.perf_counter() - w0, 1), 'cpu_s': round(time.process_time() - c0, 1),\n"
        "  'peak_rss_mb': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),\n"
        "  'fingerprinted_s': out.fields['landmark_seconds'], 'row_peaks_bytes': len(out.fields['ana_landmarks'])}))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, OMP_NUM_THREADS="1"))  # fmt: skip
    return json.loads(res.stdout.strip().splitlines()[-1])


def size(library: str) -> dict:
    from tonearm.store import open_store

    store = open_store(library, create=False)
    rows = list(store.scan(columns=["id", "duration", "ana_landmarks"]))
    hours = sum(float(r["duration"] or 0) for r in rows) / 3600
    row_bytes = sum(len(r["ana_landmarks"] or "") for r in rows)
    post = store.postings_size()
    segments = len(store._postings.manifest()["segments"])
    return {
        "tracks": len(rows),
        "hours": round(hours, 2),
        "postings_mb": round(post / 1e6, 2),
        "postings_mb_per_hour": round(post / 1e6 / hours, 3),
        "row_peaks_mb_per_hour": round(row_bytes / 1e6 / hours, 3),
        "segments": segments,
        "postings_mb_per_hour_without_offsets_table": round((post - 8.4e6 * segments) / 1e6 / hours, 3),
    }


def scale(
    library: str, n_tracks: int, out: Path, queries: list[Path], relevant: list[str | None], labels: list[str]
) -> dict:
    """Synthetic distractors next to the real library's postings; identify every query."""
    import shutil

    from tonearm.search.identify import identify_audio
    from tonearm.store import open_store
    from tonearm.store.files import save_npy
    from tonearm.store.postings import N_HASHES, Segment, build_segment

    real = open_store(library, create=False)
    big = out / f"scale-{n_tracks}"
    seg_tracks = 12_500
    if not (big / "done").exists():
        shutil.rmtree(big, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "tonearm.cli", "store", "copy", library, str(big)], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        store = open_store(str(big))
        # The copy has the rows; derive its postings, then add the distractor segments beside them.
        from tonearm.library.landmarks import sync_postings

        sync_postings(store)
        manifest = store._postings.manifest()
        seg = Segment(store._postings.folder, manifest["segments"][0])
        counts = np.diff(seg.offsets.astype(np.int64)).astype(np.float64)
        p = counts / counts.sum()
        rng = np.random.default_rng(0)
        per_track = 180 * 70  # 3 minutes at ~70 hashes per second
        for s in range((n_tracks + seg_tracks - 1) // seg_tracks):
            name = f"seg-9{s:05d}"
            ids = [f"syn{s:03d}{i:06d}" for i in range(min(seg_tracks, n_tracks - s * seg_tracks))]
            hashes = rng.choice(N_HASHES, size=(len(ids), per_track), p=p).astype(np.uint32)
            frames = np.sort(rng.integers(0, 180 * int(L.FPS), (len(ids), per_track)), axis=1)
            offsets, postings, starts = build_segment([(t, hashes[i], frames[i]) for i, t in enumerate(ids)])
            save_npy(store._postings.folder / f"{name}.offsets.npy", offsets)
            save_npy(store._postings.folder / f"{name}.postings.npy", postings)
            (store._postings.folder / f"{name}.tracks.json").write_text(json.dumps(starts))
            manifest["segments"].append(name)
            manifest["tracks"].update({t: [name, "synthetic"] for t in ids})
            del hashes, frames, offsets, postings
            print(f"segment {s}: {len(ids)} tracks", file=sys.stderr, flush=True)
        manifest["generation"] += 1
        (store._postings.folder / "manifest.json").write_text(json.dumps(manifest))
        (big / "done").write_text("ok")
    store = open_store(str(big))
    from tonearm.audio.decode import load

    clips = [load(q, L.SR) for q in queries]
    for y in clips[:3]:
        identify_audio(store, y)  # warm the memory maps
    lat, hits, probes, plain, found = [], [], [], [], []
    for y, rel in zip(clips, relevant, strict=True):
        t0 = time.perf_counter()
        res = identify_audio(store, y, k=1)
        lat.append(1000 * (time.perf_counter() - t0))
        probes.append(res["query"]["probes"] > 1)
        if not probes[-1]:
            plain.append(lat[-1])
        found.append(bool(res["results"]))
        hits.append(None if rel is None else bool(res["results"]) and res["results"][0]["id"] == rel)
        print(f"query {len(lat)}: {lat[-1]:.0f} ms, {res['query']['probes']} probes", file=sys.stderr, flush=True)
    return {"tracks": n_tracks + real.count(), "postings_gb": round(store.postings_size() / 1e9, 2),
            "queries": len(clips), "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p95_ms": round(float(np.percentile(lat, 95)), 1), "share_probed": round(float(np.mean(probes)), 3),
            "plain_lookup_p50_ms": round(float(np.percentile(plain, 50)), 1) if plain else None,
            "r@1": _mean([h for h in hits if h is not None]),
            "false_accepts": _mean([ok for ok, h in zip(found, hits, strict=True) if h is None]),
            "not_found_p50_ms": _pct([x for x, ok in zip(lat, found, strict=True) if not ok], 50),
            "per_distortion": _per_label(labels, lat, hits),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}  # fmt: skip


def _mean(values: list[bool]) -> float | None:
    return round(float(np.mean(values)), 3) if values else None


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def _per_label(labels: list[str], lat: list[float], hits: list[bool | None]) -> dict:
    """Latency and R@1 per distortion of the queries: which kind of clip sets the p95."""
    out = {}
    for name in dict.fromkeys(labels):
        mine = [i for i, x in enumerate(labels) if x == name]
        out[name] = {"queries": len(mine), "p50_ms": _pct([lat[i] for i in mine], 50),
                     "p95_ms": _pct([lat[i] for i in mine], 95),
                     "r@1": _mean([hits[i] for i in mine if hits[i] is not None])}  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench-out")
    ap.add_argument("--library", help="a library with the landmarks view (e.g. the eval's)")
    ap.add_argument("--tracks", type=int, default=100_000)
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--scale-only", action="store_true", help="only the latency at scale (its store is reused)")
    ap.add_argument("--scale-queries", type=int, default=150,
                    help="QbE clips of the eval timed at scale (its out-of-library clips are timed too)")  # fmt: skip
    ap.add_argument("--eval-cache", default="eval-cache", help="where the eval corpus is (for the scale queries)")
    args = ap.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    results: dict = {}
    if not args.scale_only:
        paths = tunes(out / "tunes", 40)
        results["speed_one_core"] = speed(paths)
        print(json.dumps(results, indent=2), flush=True)
        results["three_hour_file"] = three_hours(paths, out)
        print(json.dumps(results["three_hour_file"]), flush=True)
    if args.library:
        results["size"] = size(args.library)
        print(json.dumps(results["size"]), flush=True)
        if not args.skip_scale:
            from tonearm.eval.corpus import build_corpus
            from tonearm.store.identity import track_id

            corpus = build_corpus("small", Path(args.eval_cache))
            items = {i.item_id: i for i in corpus.items}
            qs = [q for q in corpus.queries if q.task == "qbe"]
            qs = qs[:: max(1, len(qs) // args.scale_queries)][: args.scale_queries]  # every distortion, evenly
            rel: list[str | None] = [track_id(os.path.realpath(items[q.relevant[0]].path)) for q in qs]
            labels = [str(q.meta.get("distortion", "?")) for q in qs]
            outside = [q for q in corpus.queries if q.task == "identify_out"]  # clips of music the library lacks
            qs, rel, labels = qs + outside, rel + [None] * len(outside), labels + ["outside"] * len(outside)
            results["scale"] = scale(args.library, args.tracks, out, [Path(q.path) for q in qs], rel, labels)
    print(json.dumps(results, indent=2))
    (out / "bench_identify.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
