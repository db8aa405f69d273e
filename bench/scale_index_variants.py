"""Compare LanceDB index types and query breadths on bench_scale's synthetic library.

    python bench/scale_index_variants.py --rows 200000 --workdir /tmp/iv \\
        --variants IVF_HNSW_SQ,IVF_SQ,IVF_SQ:num_partitions=512,BITMAP --probes 40/4,120/4
    python bench/scale_index_variants.py --rows 1000000 --dim 32 --raw-dim 889 --workdir /tmp/iv32 ...

Each variant (``TYPE[:param=value...]``, or ``BITMAP``: a bitmap index on ``genre`` added to
what is there) is built on the same table; after each, the 200 queries of bench_scale run in a
fresh process once per ``nprobes/refine`` pair, with recall@10 against exact search. One JSON
line per (variant, probes) on stdout. This is how the shipped index type and its settings in
``tonearm/store/lance.py`` were chosen (``bench/results/scale-lance-index-variants.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_scale as bs  # noqa: E402


def build_once(work: Path, rows: int, dim: int = bs.DIM, raw_dim: int | None = None) -> str:
    location = str(work / "lib")
    if (work / "queries.npz").exists():
        return location
    import pyarrow as pa

    from tonearm.store.lance import LanceStore

    raw_dim = raw_dim or dim
    store = LanceStore(location)
    store.ensure_view("sound", raw_dim, dim)
    schema = store._tracks.schema
    for start in range(0, rows, bs.CHUNK):
        x, g = bs.vectors(start, min(bs.CHUNK, rows - start), dim)
        n = len(x)
        cols = {f.name: pa.nulls(n, f.type) for f in schema}
        cols["id"] = pa.array([bs.track_id(start + i) for i in range(n)])
        cols["path"] = pa.array([f"/music/{start + i}.flac" for i in range(n)])
        cols["genre"] = pa.array([f"g{v:02d}" for v in g])
        cols["year"] = pa.array((1950 + (np.arange(start, start + n) % 70)).astype(np.int64))
        cols["vec_sound"] = pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), dim)
        raw = x if raw_dim == dim else bs.raw_rows(start, n, raw_dim)
        cols["raw_sound"] = pa.FixedSizeListArray.from_arrays(pa.array(raw.ravel()), raw_dim)
        store._tracks.add(pa.table([cols[f.name] for f in schema], schema=schema))
    x, genre = bs.all_vectors(rows, dim)
    q = bs.queries(x, 200)
    year = 1950 + np.arange(rows) % 70
    np.savez(work / "queries.npz", q=q, truth=bs.exact_top(x, q), truth_f=bs.exact_top(x, q, genre == 7),
             truth_f2=bs.exact_top(x, q, (genre == 7) & (year < 1957)))  # fmt: skip
    return location


def build_variant(location: str, variant: str) -> float:
    import lancedb

    table = lancedb.connect(location).open_table("tracks")
    kind, *opts = variant.split(":")
    params = {k: int(v) for k, v in (o.split("=") for o in opts)}
    t0 = time.perf_counter()
    if kind == "BITMAP":
        table.create_scalar_index("genre", index_type="BITMAP", replace=True)
    else:
        table.create_index(metric="cosine", vector_column_name="vec_sound", index_type=kind, name="vec_sound_idx",
                           replace=True, **params)  # fmt: skip
    return time.perf_counter() - t0


def query_with(location: str, qfile: str, nprobes: int, refine: int) -> dict:
    """In this (fresh) process: the store's queries with a fixed breadth instead of its own rule."""
    import tonearm.store.lance as lance

    lance.ann_probes = lambda partitions, selectivity=1.0: nprobes
    lance.ANN_REFINE = refine
    return bs.run_queries(location, qfile)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--workdir", type=Path, required=True, help="kept between runs: the table is built once")
    ap.add_argument("--dim", type=int, default=bs.DIM, help="search vector dimension")
    ap.add_argument("--raw-dim", type=int, default=None, help="raw column dimension (default: --dim)")
    ap.add_argument("--variants", default="IVF_SQ,BITMAP")
    ap.add_argument("--probes", default="40/4", help="nprobes/refine pairs, comma-separated")
    ap.add_argument("--query-only", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.query_only:
        location, qfile, nprobes, refine = args.query_only
        print(json.dumps(query_with(location, qfile, int(nprobes), int(refine))))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    location = build_once(args.workdir, args.rows, args.dim, args.raw_dim)
    for variant in args.variants.split(","):
        build_s = build_variant(location, variant)
        for pair in args.probes.split(","):
            nprobes, refine = pair.split("/")
            res = subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--workdir", str(args.workdir),
                                  "--query-only", location, str(args.workdir / "queries.npz"), nprobes, refine],
                                 capture_output=True, text=True, check=True, env=dict(os.environ))  # fmt: skip
            found = json.loads(res.stdout.strip().splitlines()[-1])
            print(json.dumps({"variant": variant, "rows": args.rows, "build_s": round(build_s, 1),
                              "disk_mb": round(bs.du(location)), "nprobes": int(nprobes), "refine": int(refine),
                              **found}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
