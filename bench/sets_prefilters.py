"""Which first stage proposes the candidates set matching needs? Exact (numpy) candidate generators compared.

    python bench/sets_prefilters.py --rows 100000 --spread 0.55 --out bench/results/sets_prefilters.json

On ``bench_sets.py``'s synthetic rows (4 stretches a track; ``--spread`` 0.55 puts the stretches' mean
squared distance to their track's centre at 0.61 of the mean squared distance between nearest tracks, on
488 rows, as the eval library's real pieces have it: 0.62, ``--library``), each generator proposes
``pool`` tracks, they are re-ranked by exact Chamfer, and recall@10 is taken against exact set matching
over the whole library:

* the track vector's nearest tracks (what ``similar --match sets`` ships, through the ANN index);
* multi-probe: a fifth of the pool by the track vector, a fifth by each of the query's stretch vectors
  (nearest track vectors to each stretch);
* a stretch-level index: the tracks owning the stretches nearest to each query stretch (what a
  multivector / late-interaction index over the stretch vectors would propose);
* one vector per track of the stretches' mean and (weighted) second moment, whole or cut to its
  leading principal directions (what a single-vector index could hold instead of the track vector).

Exact search, so the figures measure the generators, not an index's approximation. The spread ratio is
not the whole story: with ``--library`` the same recall is taken on a real library at its own size,
against the synthetic rows at that size (``--rows 488 --queries 488 --pools 15,20,30``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from bench_sets import CHUNK, LATENT, S, chunk, exact_top, standardizer, unit


def spread_ratio(stretches: np.ndarray, counts: np.ndarray, tracks: np.ndarray) -> float:
    """Mean squared distance of a track's (unit) stretch vectors to their mean, over the mean squared
    distance from a track vector to its nearest other track: how far stretches wander, in neighbour units."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    within = np.mean([((stretches[a : a + n] - stretches[a : a + n].mean(0)) ** 2).sum(1).mean()
                      for a, n in zip(starts, counts, strict=True) if n > 1])  # fmt: skip
    sims = tracks @ tracks.T
    np.fill_diagonal(sims, -np.inf)
    return float(within / np.mean(2 - 2 * sims.max(axis=1)))


def library_check(location: str, pools: list[int]) -> dict:
    """A real library's sound view (e.g. the one ``tonearm eval`` indexed): its ``spread_ratio``, and how much
    of each track's exact set-matching top 10 the first stages propose in ``pools`` candidates (every track a
    query; the pools are small because such a library is)."""
    from tonearm.analyzers.fused import SEGMENTS_FIELD
    from tonearm.search.sets import SetMatcher, chamfer_many
    from tonearm.store import open_store

    store = open_store(location, create=False)
    rows = list(store.scan(columns=["vec_sound", "raw_sound", SEGMENTS_FIELD]))
    vecs = np.array([r["vec_sound"] for r in rows], np.float32)
    raws = np.array([r["raw_sound"] for r in rows], np.float32)
    found, counts = SetMatcher(store, "sound").sets(raws, [r[SEGMENTS_FIELD] for r in rows], vecs)
    sets = np.split(found, np.cumsum(counts)[:-1])
    exact = np.array([chamfer_many(s, found, counts) for s in sets])
    np.fill_diagonal(exact, -np.inf)
    truth = np.argsort(-exact, axis=1)[:, :10]
    means = np.array([s.mean(0) for s in sets])
    seconds = np.array([(s.T @ s).ravel() / len(s) for s in sets])
    proposals = {"track vector": vecs @ vecs.T, "mean + 8 x second moment": means @ means.T + 8 * seconds @ seconds.T}
    out: dict = {"tracks": len(rows), "spread_ratio": spread_ratio(found, counts, vecs), "recall@10": {}}
    for pool in pools:
        row = {}
        for name, scores in proposals.items():
            scores = scores.copy()
            np.fill_diagonal(scores, -np.inf)
            hits = []
            for i in range(len(sets)):
                cands = np.argsort(-scores[i])[:pool]
                top = cands[np.argsort(-exact[i, cands])[:10]]
                hits.append(len(set(top.tolist()) & set(truth[i].tolist())) / 10)
            row[name] = float(np.mean(hits))
        out["recall@10"][f"pool {pool}"] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--spread", type=float, default=0.55)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--pools", default="200,400")
    ap.add_argument("--library", default=None, help="a real library: its spread ratio and first-stage recall too")
    ap.add_argument("--library-pools", default="15,20,30", help="candidate pools for --library")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    std = standardizer()
    result: dict = {"rows": args.rows, "spread": args.spread, "queries": args.queries, "recall@10": {}}
    track, _, projected = chunk(0, 488, args.spread)
    result["synthetic_spread_ratio_488"] = spread_ratio(
        unit(projected).reshape(-1, LATENT), np.full(488, S), std.apply(track).astype(np.float32)
    )
    if args.library:
        result["library"] = library_check(args.library, [int(p) for p in args.library_pools.split(",")])
        print("library:", result["library"], flush=True)
    print({k: v for k, v in result.items() if "ratio" in k}, flush=True)
    vecs, sets = [], []
    for start in range(0, args.rows, CHUNK):
        track, _, projected = chunk(start, min(CHUNK, args.rows - start), args.spread)
        vecs.append(std.apply(track).astype(np.float32))
        sets.append(unit(projected).astype(np.float32))
    vec, sets = np.concatenate(vecs), np.concatenate(sets)
    flat = sets.reshape(-1, LATENT)
    queries = np.random.default_rng(123).choice(args.rows, args.queries, replace=False)
    truth = exact_top(sets, queries)

    def by_vector(qi: int, pool: int) -> np.ndarray:
        return np.argsort(-(vec @ vec[qi]))[: pool + 1]

    # One vector a track that an ANN index could hold, closer to Chamfer than the mean: the stretches'
    # mean and second moment, whose inner products are mean(a_i . b_j) and mean((a_i . b_j)^2), the
    # square stressing the pairs that match well (the kernel of a degree-2 polynomial, as sketches use).
    means = sets.mean(axis=1)
    seconds = np.einsum("nsi,nsj->nij", sets, sets).reshape(len(sets), -1) / S

    def moments(weight: float):
        def generator(qi: int, pool: int) -> np.ndarray:
            return np.argsort(-(means @ means[qi] + weight * (seconds @ seconds[qi])))[: pool + 1]

        return generator

    # ...and that vector cut to its leading principal directions (what an index would hold; inner products).
    def reduced(weight: float, dims: int):
        phi = np.hstack([means, np.sqrt(weight) * seconds]).astype(np.float32)
        centre = phi[:20_000].mean(axis=0)
        _, _, vt = np.linalg.svd(phi[:20_000] - centre, full_matrices=False)
        low = (phi - centre) @ vt[:dims].T
        offset = phi @ centre  # (c + r_a).(c + r_b) ranks b by r_a.r_b + phi_b.c: one more stored number

        def generator(qi: int, pool: int) -> np.ndarray:
            return np.argsort(-(low @ low[qi] + offset))[: pool + 1]

        return generator

    def multi_probe(qi: int, pool: int) -> np.ndarray:
        per = pool // (S + 1)
        found = [np.argsort(-(vec @ probe))[: per + 1] for probe in (vec[qi], *sets[qi])]
        return np.unique(np.concatenate(found))

    def stretch_index(qi: int, pool: int) -> np.ndarray:
        per = pool // S
        found = []
        for probe in sets[qi]:
            owners = np.argsort(-(flat @ probe))[: per * S] // S
            _, first = np.unique(owners, return_index=True)
            found.append(owners[np.sort(first)][:per])
        return np.unique(np.concatenate(found))

    def recall(generator, pool: int) -> float:
        hits = []
        for row, qi in enumerate(queries):
            cands = generator(qi, pool)
            cands = cands[cands != qi]
            g = (sets[qi] @ sets[cands].reshape(-1, LATENT).T).reshape(S, len(cands), S)
            scores = 0.5 * (g.max(axis=2).mean(axis=0) + g.max(axis=0).mean(axis=1))
            top = cands[np.argsort(-scores)[:10]]
            hits.append(len(set(top.tolist()) & set(truth[row].tolist())) / 10)
        return float(np.mean(hits))

    generators = (("track vector", by_vector), ("multi-probe", multi_probe), ("stretch index", stretch_index),
                  *((f"mean + {w} x second moment", moments(w)) for w in (1.0, 4.0, 8.0, 16.0, 1e6)),
                  *((f"mean + 8 x second moment, {d} dims", reduced(8.0, d)) for d in (32, 64, 128)))  # fmt: skip
    for pool in (int(p) for p in args.pools.split(",")):
        row = {name: recall(fn, pool) for name, fn in generators}
        result["recall@10"][f"pool {pool}"] = row
        print(pool, row, flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
