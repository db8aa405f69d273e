"""Label-free ways to adapt the sound view to a library, measured (groundwork for issue 22).

The shipped ``fused`` view z-scores each feature over the library, weights its blocks and
L2-normalises. This script asks what else a library can learn about itself without labels, and
scores every candidate on the same features:

* hubness corrections of the cosine (CSLS; mutual proximity, Gaussian form);
* PCA whitening of the fused vector (``d`` components, eigenvalues shrunk by ``alpha`` x their mean);
* **track-LDA**: each track's analysis windows cut into ``S`` segments; a projection that maximises
  the spread between tracks over the spread between segments of one track (a generalised
  eigenproblem, the within-track scatter ridged by ``eps`` x its mean eigenvalue). The tracks are
  the classes, so nothing is labelled: two stretches of one recording are "the same sound";
* segment sets compared directly (Chamfer: mean over one track's segments of their best match in
  the other, symmetrised), on z-scored segments and on track-LDA-projected ones.

Tasks: style and instrument P@10 over the rendered tunes and grouping P@5 of the real recordings by
game, as ``bench/sound_variants.py`` scores them, with the k-occurrence skewness (hubness) at 10;
then grouping P@5 on held-out soundtrack pieces (five Debian game-music packages, none in the
small corpus), as a library of their own and mixed into the corpus's library.

    python bench/sound_variants.py --size small --cache eval-cache --out bench-out   # features, once
    python bench/sound_adaptation.py --cache eval-cache --features bench-out/variants-small.npz \\
        --heldout bench-out/heldout.npz --out bench/results/sound_adaptation.json
    # the within-recording scatter the fused view ships (tonearm/analyzers/fused_within.npz):
    python bench/sound_adaptation.py --cache eval-cache --within-features bench-out/within.npz \\
        --write-within tonearm/analyzers/fused_within.npz
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy.linalg import eigh
from scipy.stats import norm
from sound_variants import extract

from tonearm.eval import metrics as M
from tonearm.eval.corpus import build_corpus, fetch_packages

BLOCKS = (("dsp", 127, 0.5), ("pen", 200, 1.0), ("tags", 50, 0.5), ("aisfx", 512, 1.5))  # the shipped fusion
STRIDE = 2  # the shipped view's patch stride
HELDOUT_PACKAGES = ("hedgewars-data", "supertux-data", "naev-data", "widelands-data", "freedroidrpg-data")
# Where the shipped within-recording scatter is measured (fused_within.npz): in no benchmark set.
WITHIN_PACKAGES = ("extremetuxracer-data", "lincity-ng-data", "xmoto-data", "openclonk-data", "flare-game",
                   "warmux-data", "lugaru-data")  # fmt: skip
PER_PACKAGE = 25
WEIGHTS = np.concatenate([np.full(size, weight / np.sqrt(size)) for _, size, weight in BLOCKS])

Feats = dict[str, np.ndarray]


# ---- vectors ----------------------------------------------------------------------------------
def track_raw(f: Feats) -> np.ndarray:
    """The shipped view's raw vector: DSP statistics, then means over every other patch/block."""
    return np.concatenate([f["dsp"], *(f[k][::STRIDE].mean(0) for k in ("pen", "tags", "aisfx"))])


def segment_raw(f: Feats, segments: int) -> np.ndarray:
    """(S, 889) raw vectors of S consecutive stretches of the track (DSP statistics are per track)."""
    nets = [f[k][::STRIDE] for k in ("pen", "tags", "aisfx")]
    s = max(1, min(segments, *(len(x) for x in nets)))
    parts = [np.array([x[i].mean(0) for i in np.array_split(np.arange(len(x)), s)]) for x in nets]
    return np.concatenate([np.repeat(f["dsp"][None], s, 0), *parts], axis=1)


def l2(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class Library:
    """A set of tracks standardised as the library would standardise them (statistics of its own)."""

    def __init__(self, feats: list[Feats]) -> None:
        self.feats = feats
        self.raw = np.array([track_raw(f) for f in feats])
        self.mean, self.std = self.raw.mean(0), np.maximum(self.raw.std(0), 1e-6)
        self.z = self.standardise(self.raw)

    def standardise(self, raw: np.ndarray) -> np.ndarray:
        return (raw - self.mean) / self.std * WEIGHTS

    def segments(self, s: int) -> list[np.ndarray]:
        return [self.standardise(segment_raw(f, s)) for f in self.feats]


def pca_whiten(z: np.ndarray, d: int, alpha: float) -> np.ndarray:
    zc = z - z.mean(0)
    _, sv, vt = np.linalg.svd(zc, full_matrices=False)
    lam = (sv**2 / len(z))[:d]
    return zc @ vt[:d].T / np.sqrt(lam + alpha * lam.mean())


def within_scatter(segment_sets: list[np.ndarray]) -> np.ndarray:
    """Scatter of each track's segments about the track's mean, per degree of freedom."""
    dim = segment_sets[0].shape[1]
    within, dof = np.zeros((dim, dim)), 0
    for seg in segment_sets:
        if len(seg) > 1:
            dev = seg - seg.mean(0)
            within += dev.T @ dev
            dof += len(seg) - 1
    return within / max(dof, 1)


def track_lda(lib: Library, segments: int, d: int, eps: float) -> np.ndarray:
    """(D, d) projection: between-track scatter over within-track (segment) scatter, ridged."""
    dim = lib.z.shape[1]
    within = within_scatter(lib.segments(segments))
    zc = lib.z - lib.z.mean(0)
    between = zc.T @ zc / len(zc)
    ridge = within + eps * np.trace(within) / dim * np.eye(dim)
    _, vecs = eigh(between, ridge)
    return vecs[:, ::-1][:, :d]


def product(lib: Library) -> np.ndarray:
    """The library's vectors as tonearm derives them (its own statistics code and the fused view's recipe)."""
    from tonearm.analyzers.fused import FusedSoundAnalyzer
    from tonearm.analyzers.normalize import Moments

    fused = FusedSoundAnalyzer()
    moments = Moments(covariance=True)
    moments.add(lib.raw)
    return moments.standardizer(fused.key, fused.dim_weights(), fused.discriminant()).apply(lib.raw)


# ---- similarity ------------------------------------------------------------------------------
def cosine(x: np.ndarray) -> np.ndarray:
    x = l2(x)
    return x @ x.T


def csls(sims: np.ndarray, k: int = 10) -> np.ndarray:
    s = sims.copy()
    np.fill_diagonal(s, -np.inf)
    r = np.sort(s, axis=1)[:, -k:].mean(1)
    return 2 * sims - r[:, None] - r[None, :]


def mutual_proximity(sims: np.ndarray) -> np.ndarray:
    s = sims.copy()
    np.fill_diagonal(s, np.nan)
    mu, sd = np.nanmean(s, 1), np.nanstd(s, 1)
    return norm.cdf(sims, mu[:, None], sd[:, None]) * norm.cdf(sims, mu[None, :], sd[None, :])


def chamfer(sets: list[np.ndarray]) -> np.ndarray:
    """Symmetrised mean best-match cosine between the tracks' segment sets."""
    sets = [l2(s) for s in sets]
    flat = np.concatenate(sets)
    owner = np.concatenate([np.full(len(s), i) for i, s in enumerate(sets)])
    starts = np.cumsum([0] + [len(s) for s in sets])
    out = np.zeros((len(sets), len(sets)))
    for i in range(len(sets)):
        g = flat[starts[i] : starts[i + 1]] @ flat.T
        best = np.full((len(sets), len(g)), -np.inf)
        np.maximum.at(best, owner, g.T)
        out[i] = best.mean(1)
    return (out + out.T) / 2


def variants(lib: Library) -> dict[str, Callable[[], np.ndarray]]:
    """Name -> similarity matrix over the library's tracks (computed when asked)."""
    base = lambda: cosine(lib.z)  # noqa: E731
    out: dict[str, Callable[[], np.ndarray]] = {
        "shipped fused (z-score, block weights)": base,
        "shipped + CSLS": lambda: csls(base()),
        "shipped + mutual proximity": lambda: mutual_proximity(base()),
    }
    for d in (32, 128):
        for alpha in (0.1, 1.0):
            out[f"PCA whitening d={d} alpha={alpha}"] = lambda d=d, a=alpha: cosine(pca_whiten(lib.z, d, a))
    for s in (4, 8):
        for d in (16, 32, 64):
            for eps in (1.0, 3.0, 10.0):
                out[f"track-LDA S={s} d={d} eps={eps}"] = lambda s=s, d=d, e=eps: cosine(
                    (lib.z - lib.z.mean(0)) @ track_lda(lib, s, d, e)
                )
    out["track-LDA S=4 d=32 eps=3.0, shipped within-track scatter (the product)"] = lambda: cosine(product(lib))
    out["track-LDA S=4 d=32 eps=3.0 + CSLS"] = lambda: csls(cosine((lib.z - lib.z.mean(0)) @ track_lda(lib, 4, 32, 3)))
    for s in (4, 8):
        out[f"Chamfer over S={s} z-scored segments"] = lambda s=s: chamfer(lib.segments(s))

        def lda_sets(s: int = s) -> np.ndarray:
            proj = track_lda(lib, 4, 32, 3.0)
            return chamfer([(seg - lib.z.mean(0)) @ proj for seg in lib.segments(s)])

        out[f"Chamfer over S={s} track-LDA (S=4 d=32 eps=3) segments"] = lda_sets
    return out


# ---- scoring ---------------------------------------------------------------------------------
def precision(sims: np.ndarray, queries: list[int], pool: list[int], relevant: Callable[[int, int], bool], k: int):
    inside = set(pool)
    return M.mean(
        M.precision_at_k(
            [j for j in np.argsort(-sims[q]) if j in inside and j != q], {j for j in pool if relevant(q, j)}, k
        )
        for q in queries
    )


def skewness(sims: np.ndarray, k: int = 10) -> float:
    s = sims.copy()
    np.fill_diagonal(s, -np.inf)
    occ = np.bincount(np.argpartition(-s, k, axis=1)[:, :k].ravel(), minlength=len(s)).astype(float)
    return float(((occ - occ.mean()) ** 3).mean() / occ.std() ** 3)


def package_features(
    cache: Path, path: Path, packages: tuple[str, ...], exclude: set[str], workers: int
) -> tuple[list[Feats], list[str]]:
    """Per-patch features of up to 25 pieces of each Debian package (cached at ``path``), and their package."""
    if path.exists():
        data = np.load(path, allow_pickle=True)
        return data["feats"].tolist(), data["groups"].tolist()
    files, _ = fetch_packages(packages, cache / "debian")
    rng = np.random.default_rng(7)
    picked: list[tuple[str, str]] = []
    for pkg in packages:
        mine = [str(f) for p, f, _ in files if p == pkg and str(f) not in exclude]
        picked += [(pkg, mine[i]) for i in sorted(rng.permutation(len(mine))[:PER_PACKAGE])]
    with ProcessPoolExecutor(workers) as pool:
        feats = list(pool.map(extract, [p for _, p in picked], chunksize=2))
    groups = [g for g, _ in picked]
    np.savez(path, feats=np.array(feats, dtype=object), groups=np.array(groups))
    return feats, groups


def write_within(out: Path, cache: Path, features: Path, exclude: set[str], workers: int) -> None:
    """Measure the fused view's within-recording scatter on WITHIN_PACKAGES and write it as the analyzer
    loads it (``tonearm/analyzers/fused_within.npz``): the upper triangle of the networks' block."""
    feats, groups = package_features(cache, features, WITHIN_PACKAGES, exclude, workers)
    scatter = within_scatter([segment_raw(f, 4) for f in feats])
    offset = BLOCKS[0][1]  # DSP statistics are per track: their rows are zero
    block = scatter[offset:, offset:]
    np.savez_compressed(
        out,
        upper=block[np.triu_indices(len(block))].astype(np.float32),
        offset=np.int64(offset),
        tracks=np.int64(len(feats)),
        packages=np.array(sorted(set(groups))),
    )
    print(f"within-recording scatter of {len(feats)} pieces from {len(set(groups))} packages -> {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="eval-cache")
    ap.add_argument("--features", default="bench-out/variants-small.npz", help="written by bench/sound_variants.py")
    ap.add_argument("--heldout", default="bench-out/heldout.npz", help="held-out features (extracted if absent)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="bench/results/sound_adaptation.json")
    ap.add_argument("--write-within", metavar="NPZ", help="measure the within-recording scatter, write it, stop")
    ap.add_argument("--within-features", default="bench-out/within.npz", help="their features (extracted if absent)")
    args = ap.parse_args()
    corpus = build_corpus("small", Path(args.cache).resolve())
    items = corpus.items
    n = len(items)
    exclude = {i.path for i in items}
    if args.write_within:
        write_within(Path(args.write_within), Path(args.cache), Path(args.within_features), exclude, args.workers)
        return
    feats = np.load(args.features, allow_pickle=True)["feats"].tolist()[:n]  # then the QbE queries: unused
    rendered = [k for k, i in enumerate(items) if i.source == "rendered"]
    first = [k for k in rendered if items[k].version == 0]
    real = [k for k, i in enumerate(items) if i.source == "real"]
    held, held_groups = package_features(Path(args.cache), Path(args.heldout), HELDOUT_PACKAGES, exclude, args.workers)

    def other_tune(label: str) -> Callable[[int, int], bool]:
        return lambda q, j: (
            getattr(items[j], label) == getattr(items[q], label) and items[j].tune_id != items[q].tune_id
        )

    def tunes_only(sims: np.ndarray, label: str) -> float:
        masked = sims.copy()
        same_tune = np.array([[items[j].tune_id == items[q].tune_id for j in range(n)] for q in first])
        masked[first] = np.where(same_tune, -np.inf, sims[first])
        return precision(masked, first, rendered, other_tune(label), 10)

    lib, alone, mixed = Library(feats), Library(held), Library(feats + held)
    mixed_groups = [items[k].group if items[k].source == "real" else "" for k in range(n)] + held_groups
    held_in_mixed = list(range(n, n + len(held)))
    pool_mixed = real + held_in_mixed
    alone_all = list(range(len(held)))
    table: dict[str, dict[str, float]] = {}
    corpus_v, alone_v, mixed_v = variants(lib), variants(alone), variants(mixed)
    print("| variant | style P@10 | instrument P@10 | grouping P@5 | skewness | held-out alone | held-out mixed |")
    print("|---|---|---|---|---|---|---|")
    for name, make in corpus_v.items():
        sims = make()
        a, m = alone_v[name](), mixed_v[name]()
        row = {
            "style P@10": tunes_only(sims, "style"),
            "instrument P@10": tunes_only(sims, "instrument"),
            "grouping P@5": precision(sims, real, real, lambda q, j: items[j].group == items[q].group, 5),
            "skewness": skewness(sims),
            "held-out alone P@5": precision(a, alone_all, alone_all, lambda q, j: held_groups[j] == held_groups[q], 5),
            "held-out mixed P@5": precision(
                m, held_in_mixed, pool_mixed, lambda q, j: mixed_groups[j] == mixed_groups[q], 5
            ),
        }
        table[name] = row
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in row.values()) + " |", flush=True)
    result = {"corpus": "small", "items": n, "heldout_tracks": len(held),
              "heldout_packages": list(HELDOUT_PACKAGES), "variants": table}  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
