"""Ways to score two tracks' stretch sets, on a library `tonearm eval --size small` indexed (issue 22).

    tonearm eval --size small --out OUT --cache CACHE -j 2          # indexes OUT/library
    python bench/set_scores.py --library OUT/library --cache CACHE --out bench/results/set_scores.json

Every track's stretch vectors are derived as ``similar --match sets`` derives them (the library's own
statistics and projection), then every pair is scored by: the track vectors' cosine; the symmetrised
Chamfer similarity (what ``--match sets`` ships); Chamfer from the query's side only; the best single pair
of stretches; the mean over all pairs; and mixtures of Chamfer with the cosine. Style P@10 and grouping
P@5 are scored as ``tonearm eval`` scores them (``tonearm.eval.recs._retrieval``), with the k-occurrence
skewness at 10.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from tonearm.analyzers.fused import SEGMENTS_FIELD
from tonearm.eval import recs
from tonearm.eval.corpus import build_corpus
from tonearm.search.sets import SetMatcher, chamfer_many
from tonearm.store import open_store
from tonearm.store.base import raw_column, vector_column
from tonearm.store.identity import track_id


def pair_scores(flat: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """(n, n) similarity matrices of the set scores compared, from stretch vectors back to back."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    n = len(counts)
    out = {k: np.zeros((n, n)) for k in ("Chamfer (shipped)", "query side only", "best pair", "mean of all pairs")}
    for qi, (a, m) in enumerate(zip(starts, counts, strict=True)):
        sims = flat[a : a + m] @ flat.T
        out["Chamfer (shipped)"][qi] = chamfer_many(flat[a : a + m], flat, counts)
        out["query side only"][qi] = np.maximum.reduceat(sims, starts, axis=1).mean(axis=0)
        out["best pair"][qi] = np.maximum.reduceat(sims.max(axis=0), starts)
        out["mean of all pairs"][qi] = np.add.reduceat(sims.mean(axis=0), starts) / counts
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    corpus = build_corpus("small", Path(args.cache))
    store = open_store(args.library, create=False)
    by_track = {track_id(os.path.realpath(i.path)): i.item_id for i in corpus.items}
    cols = ["id", vector_column("sound"), raw_column("sound"), SEGMENTS_FIELD]
    rows = {by_track[r["id"]]: r for r in store.scan(columns=cols) if r["id"] in by_track}
    ids = list(rows)
    vecs = np.array([rows[i][cols[1]] for i in ids], np.float32)
    flat, counts = SetMatcher(store, "sound").sets(
        np.array([rows[i][cols[2]] for i in ids], np.float32), [rows[i][SEGMENTS_FIELD] for i in ids], vecs
    )
    sims = {"track vectors (cosine)": vecs @ vecs.T} | pair_scores(flat, counts)
    for w in (0.25, 0.5, 0.75):
        sims[f"{w} Chamfer + {1 - w} cosine"] = w * sims["Chamfer (shipped)"] + (1 - w) * sims["track vectors (cosine)"]
    ev = SimpleNamespace(items={i.item_id: i for i in corpus.items}, corpus=corpus, vectors={}, query_vectors={})
    result = {}
    for name, sim in sims.items():
        np.fill_diagonal(sim, -np.inf)
        scored = recs._retrieval(ev, ids, sim, None)
        result[name] = scored | {"skewness": recs.skewness(recs.k_occurrence(sim))}
        print(f"{name:32s} style {scored['style_p@10']:.3f}  grouping {scored['grouping_p@5']:.3f}  "
              f"skewness {result[name]['skewness']:.2f}")  # fmt: skip
    if args.out:
        Path(args.out).write_text(json.dumps({"tracks": len(ids), "variants": result}, indent=2) + "\n")


if __name__ == "__main__":
    main()
