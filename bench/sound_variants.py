"""Choose the default sound view by measurement: every variant on the same corpus and tasks.

Extracts, once per item of the ``tonearm eval`` corpus (cached), the DSP statistics, musicnn
(MSD) per-patch embeddings and tag probabilities, and aiSFX per-block embeddings; then scores
pooling variants (mean, mean+std, max) and weighted fusions on the eval tasks (style and
instrument P@10, real-recording grouping P@5, query-by-example MRR per distortion), each
variant z-scored over the catalogue, weighted per block and L2-normalised, exactly as the
library does. Prints a Markdown table and writes JSON.

    python bench/sound_variants.py --size small --cache eval-cache --out bench-out
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from tonearm.eval import metrics as M
from tonearm.eval.corpus import build_corpus


def extract(path: str) -> dict[str, np.ndarray]:
    from tonearm.analyzers import aisfx, musicnn
    from tonearm.analyzers.dsp import DspSoundAnalyzer
    from tonearm.audio.segments import load_for_analysis

    audio = load_for_analysis(path, 44100)
    out: dict[str, np.ndarray] = {"dsp": DspSoundAnalyzer().analyze(audio)}
    mn = musicnn.load_net()
    pats = np.concatenate([musicnn.patches(musicnn.log_mel(y)) for y in audio.at(16000)])
    res = mn.forward(pats)
    out["pen"], out["tags"] = res["penultimate"], res["taggram"]
    ai = aisfx.load_net()
    blocks = np.concatenate([aisfx.blocks(aisfx.log_mel(y), hop=aisfx.BLOCK) for y in audio.at(44100)])
    out["aisfx"] = ai.forward(blocks)
    return out


def pool(x: np.ndarray, how: str) -> np.ndarray:
    if how == "mean":
        return x.mean(0)
    if how == "max":
        return x.max(0)
    if how.startswith("mean/"):  # every n-th patch/block ("mean/2": as the shipped view computes them)
        return x[:: int(how[5:])].mean(0)
    return np.concatenate([x.mean(0), x.std(0)])


def features(f: dict[str, np.ndarray], spec: list[tuple[str, str, float]]) -> list[tuple[np.ndarray, float]]:
    return [(f["dsp"] if src == "dsp" else pool(f[src], how), w) for src, how, w in spec]


def vectors(feats: list[dict], spec, fit_idx: np.ndarray) -> np.ndarray:
    blocks = list(zip(*[features(f, spec) for f in feats], strict=True))
    parts = []
    for block in blocks:
        x = np.array([b[0] for b in block], dtype=np.float64)
        w = block[0][1]
        mu, sd = x[fit_idx].mean(0), np.maximum(x[fit_idx].std(0), 1e-6)
        parts.append(w * (x - mu) / sd / np.sqrt(x.shape[1]))
    v = np.concatenate(parts, axis=1)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def _shipped_weights(musicnn_pool: str, aisfx_pool: str) -> list[tuple[str, str, float]]:
    """The shipped fusion's blocks and weights (dsp 0.5, musicnn 1, tags 0.5, aiSFX 1.5) with the given pooling."""
    return [("dsp", "", 0.5), ("pen", musicnn_pool, 1.0), ("tags", musicnn_pool, 0.5), ("aisfx", aisfx_pool, 1.5)]


VARIANTS: dict[str, list[tuple[str, str, float]]] = {
    "dsp": [("dsp", "", 1.0)],
    "musicnn mean": [("pen", "mean", 1.0)],
    "musicnn mean+std": [("pen", "meanstd", 1.0)],
    "musicnn max": [("pen", "max", 1.0)],
    "musicnn tags mean": [("tags", "mean", 1.0)],
    "aisfx mean": [("aisfx", "mean", 1.0)],
    "aisfx mean+std": [("aisfx", "meanstd", 1.0)],
    "aisfx max": [("aisfx", "max", 1.0)],
    "dsp + tags": [("dsp", "", 1.0), ("tags", "mean", 1.0)],
    "dsp + musicnn": [("dsp", "", 1.0), ("pen", "mean", 1.0)],
    "dsp + aisfx": [("dsp", "", 1.0), ("aisfx", "mean", 1.0)],
    "dsp + musicnn + tags": [("dsp", "", 1.0), ("pen", "mean", 1.0), ("tags", "mean", 1.0)],
    "dsp + aisfx + tags": [("dsp", "", 1.0), ("aisfx", "mean", 1.0), ("tags", "mean", 1.0)],
    "dsp + musicnn + tags + aisfx": [
        ("dsp", "", 1.0),
        ("pen", "mean", 1.0),
        ("tags", "mean", 1.0),
        ("aisfx", "mean", 1.0),
    ],
    "dsp 0.5 + musicnn + tags + aisfx": [
        ("dsp", "", 0.5),
        ("pen", "mean", 1.0),
        ("tags", "mean", 1.0),
        ("aisfx", "mean", 1.0),
    ],
    "dsp + musicnn + tags 0.5 + aisfx 1.5": [
        ("dsp", "", 1.0),
        ("pen", "mean", 1.0),
        ("tags", "mean", 0.5),
        ("aisfx", "mean", 1.5),
    ],
    "musicnn + aisfx": [("pen", "mean", 1.0), ("aisfx", "mean", 1.0)],
    "dsp 0.5 + musicnn + tags 0.5 + aisfx 1.5": _shipped_weights("mean", "mean"),
    "same, every 2nd patch (shipped: fused)": _shipped_weights("mean/2", "mean/2"),
    "same, every 3rd patch": _shipped_weights("mean/3", "mean/3"),
    "same, every 4th patch": _shipped_weights("mean/4", "mean/4"),
    "same, musicnn every 2nd, aiSFX every 4th": _shipped_weights("mean/2", "mean/4"),
    "dsp + musicnn m+s + tags + aisfx m+s": [
        ("dsp", "", 1.0),
        ("pen", "meanstd", 1.0),
        ("tags", "mean", 1.0),
        ("aisfx", "meanstd", 1.0),
    ],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="small")
    ap.add_argument("--cache", default="eval-cache")
    ap.add_argument("--out", default="bench-out")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    corpus = build_corpus(args.size, Path(args.cache).resolve())
    items = corpus.items
    queries = [q for q in corpus.queries if q.task == "qbe"]
    cache = Path(args.out) / f"variants-{args.size}.npz"
    paths = [i.path for i in items] + [q.path for q in queries]
    t0 = time.perf_counter()
    if cache.exists():
        data = np.load(cache, allow_pickle=True)["feats"].tolist()
    else:
        with ProcessPoolExecutor(args.workers) as pool_:
            data = list(pool_.map(extract, paths, chunksize=4))
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, feats=np.array(data, dtype=object))
    print(f"features for {len(paths)} files in {time.perf_counter() - t0:.0f} s")
    n = len(items)
    rendered = [k for k, i in enumerate(items) if i.source == "rendered"]
    base = [k for k in rendered if items[k].version == 0]
    real = [k for k, i in enumerate(items) if i.source == "real"]
    index = {i.item_id: k for k, i in enumerate(items)}
    results = {}
    for name, spec in VARIANTS.items():
        v = vectors(data, spec, np.arange(n))
        cat, qv = v[:n], v[n:]
        sims = cat @ cat.T
        row: dict[str, float] = {}
        for label in ("style", "instrument"):
            scores = []
            for q in base:
                order = [j for j in np.argsort(-sims[q]) if j in set(rendered) and items[j].tune_id != items[q].tune_id]
                rel = {
                    j
                    for j in rendered
                    if getattr(items[j], label) == getattr(items[q], label) and items[j].tune_id != items[q].tune_id
                }
                scores.append(M.precision_at_k(order, rel, 10))
            row[f"{label} P@10"] = M.mean(scores)
        if real:
            real_set = set(real)
            row["grouping P@5"] = M.mean(
                M.precision_at_k(
                    [j for j in np.argsort(-sims[q]) if j in real_set and j != q],
                    {j for j in real if items[j].group == items[q].group and j != q},
                    5,
                )
                for q in real
            )
        by = defaultdict(list)
        qs = qv @ cat.T
        for qi, q in enumerate(queries):
            order = list(np.argsort(-qs[qi]))
            rr = M.reciprocal_rank(order, {index[q.relevant[0]]})
            by[q.meta["distortion"]].append(rr)
            by["all"].append(rr)
        for d, vals in by.items():
            row[f"QbE MRR {d}"] = M.mean(vals)
        results[name] = row
    cols = list(next(iter(results.values())))
    print("| variant | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for name, row in results.items():
        print(f"| {name} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |")
    (Path(args.out) / f"sound_variants_{args.size}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
