"""What leaving the query track and its copies out of `similar` costs on LanceDB: pre-filter or post-filter.

    python bench/bench_sets.py --rows 1000000 --workdir /tmp/sets-1m      # a library to query (kept)
    python bench/knn_exclusions.py --library /tmp/sets-1m/lib --out bench/results/knn_exclusions.json

``similar <track id>`` leaves out the track itself and every copy of it (same content hash). Before,
the LanceDB backend put both into the vector search as a pre-filter (``id NOT IN (...) AND
(content_hash IS NULL OR content_hash NOT IN (...))``); now it asks for a few more results and drops
them (``LanceStore._knn``). Both are timed here on the same queries, in turn, in one process: the
pre-filter as SQL through the store's own search, the post-filter through ``Store.knn``. What the
pre-filter costs depends on the rows: with a content hash each (as an index run writes them), the
scalar index answers it; rows without one make LanceDB evaluate ``content_hash IS NULL`` on every row.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", required=True)
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("-k", type=int, default=20, help="results asked of the index (similar -k 10 asks about 20)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    from tonearm.search.results import RESULT_FIELDS
    from tonearm.store import open_store
    from tonearm.store.base import vector_column

    store = open_store(args.library, create=False)
    rows = list(store.scan(columns=["id", "content_hash", vector_column("sound")], limit=args.queries))
    cols = list(RESULT_FIELDS)

    def pre(row: dict) -> None:
        digest = row["content_hash"] or "0" * 40
        sql = f"id NOT IN ('{row['id']}') AND (content_hash IS NULL OR content_hash NOT IN ('{digest}'))"
        store._knn_rows("sound", row[vector_column("sound")], args.k, None, sql, cols)

    def post(row: dict) -> None:
        digest = row["content_hash"] or "0" * 40
        store.knn("sound", row[vector_column("sound")], args.k, exclude_ids=[row["id"]], exclude_hashes=[digest],
                  columns=cols)  # fmt: skip

    def timed(fn) -> list[float]:
        out = []
        for row in rows:
            t0 = time.perf_counter()
            fn(row)
            out.append(1000 * (time.perf_counter() - t0))
        return out

    timed(pre), timed(post)  # warm caches once
    result: dict = {"library": args.library, "rows": store.count(), "queries": len(rows), "k": args.k, "rounds": []}
    for _ in range(args.rounds):
        a, b = timed(pre), timed(post)
        result["rounds"].append({name: {"p50_ms": float(np.percentile(v, 50)), "p95_ms": float(np.percentile(v, 95))}
                                 for name, v in (("pre-filter", a), ("post-filter", b))})  # fmt: skip
        print(json.dumps(result["rounds"][-1]), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
