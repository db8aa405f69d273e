"""Refit of a standardised view at scale: time and the refitting process's peak memory.

    python bench/bench_refit.py --rows 100000 --out bench/results/refit.json
    python bench/bench_refit.py --rows 100000 --compare-with /tmp/old-checkout   # before/after, same run
    python bench/bench_refit.py --rows 100000 --adapt   # plain z-scores, then the fused view's projection

An index run refits a standardised view's statistics when the library has drifted 20% since the
last fit, and derives every track's search vector again. The library here has the shipped sound
view's dimension (889), raw outputs of one analyzer version and no vectors yet (a first fit, the
largest case). Each refit runs in a fresh process on a fresh copy of the library; reported: wall
seconds and that process's peak resident memory (VmHWM). ``--compare-with`` names a checkout of
another tonearm commit: its refit runs on an identical copy, in the same session.
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
KEY = "fused@2"
CHUNK = 20_000
HERE = Path(__file__).resolve().parent


def build(location: str, rows: int) -> float:
    import pyarrow as pa

    from tonearm.store.lance import LanceStore

    store = LanceStore(location)
    store.ensure_view("sound", DIM)
    schema = store._tracks.schema
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    scale = rng.uniform(0.1, 1e3, DIM).astype(np.float32)  # features in mixed units, as the DSP blocks are
    views = json.dumps({"sound": KEY})
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        raw = (rng.standard_normal((n, DIM), dtype=np.float32) + 3.0) * scale
        cols = {f.name: pa.nulls(n, f.type) for f in schema}
        cols["id"] = pa.array([f"{start + i:016x}" for i in range(n)])
        cols["path"] = pa.array([f"/music/{start + i}.flac" for i in range(n)])
        cols["views_json"] = pa.array([views] * n)
        cols["raw_sound"] = pa.FixedSizeListArray.from_arrays(pa.array(raw.ravel()), DIM)
        store._tracks.add(pa.table([cols[f.name] for f in schema], schema=schema))
    store.optimize()
    return time.perf_counter() - t0


def refit_here(location: str, adapt: bool = False) -> dict:
    """Run one refit the way an index run does (this process's tonearm), report time and memory.

    ``adapt``: with the fused view's weights and discriminant projection, as a library of the shipped
    sound view is refitted (its full covariance and eigenproblem included)."""
    from tonearm.store import open_store

    store = open_store(location, create=False)
    t0 = time.perf_counter()
    try:
        from tonearm.library.refit import refit_view
    except ImportError:  # an older checkout: the refit was a method of the indexer
        from types import SimpleNamespace

        from tonearm.library.indexer import Indexer

        ix = Indexer.__new__(Indexer)
        ix.store, ix._standardizers, ix._commits_since_refit = store, {}, 0
        ix.analyzers = {"sound": SimpleNamespace(normalization="standardize", key=KEY, dim_weights=lambda: None)}
        ix._maybe_refit("sound")
    else:
        if adapt:
            from tonearm.analyzers.fused import FusedSoundAnalyzer

            fused = FusedSoundAnalyzer()
            refit_view(store, "sound", KEY, fused.dim_weights(), None, discriminant=fused.discriminant())
        else:
            refit_view(store, "sound", KEY, None, None)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "peak_rss_mb": peak_mib(), "normalizer_n": store.get_meta("normalizer:sound")["n"]}


def run_refit(code: Path, template: Path, work: Path, adapt: bool = False) -> tuple[dict, np.ndarray]:
    """The refit's figures, and the vectors of the first 50 ids (to compare two checkouts)."""
    lib = work / "copy"
    shutil.rmtree(lib, ignore_errors=True)
    shutil.copytree(template, lib)
    env = dict(os.environ, PYTHONPATH=str(code))
    command = [sys.executable, __file__, "--refit-only", str(lib)] + (["--adapt"] if adapt else [])
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["vectors_written"], sample = vectors_written(str(lib))
    shutil.rmtree(lib, ignore_errors=True)
    return result, sample


def vectors_written(location: str) -> tuple[int, np.ndarray]:
    """How many rows got a vector, and the vectors of the first 50 ids."""
    import lancedb

    table = lancedb.connect(location).open_table("tracks")
    ids = ", ".join(f"'{i:016x}'" for i in range(50))
    rows = table.search().where(f"id IN ({ids})").select(["id", "vec_sound"]).to_arrow().to_pylist()
    sample = [r["vec_sound"] for r in sorted(rows, key=lambda r: r["id"])]
    return table.count_rows("vec_sound IS NOT NULL"), np.asarray(sample)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--compare-with", type=Path, default=None, help="a checkout of another tonearm commit")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--adapt", action="store_true", help="also refit with the fused view's discriminant projection")
    ap.add_argument("--refit-only", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.refit_only:
        print(json.dumps(refit_here(args.refit_only, args.adapt)))
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="tonearm-refit-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        template = work / "template"
        shutil.rmtree(template, ignore_errors=True)
        result: dict = {"rows": args.rows, "dim": DIM, "build_s": build(str(template), args.rows)}
        result["this"], sample = run_refit(HERE.parent, template, work)
        print("this checkout:", result["this"], flush=True)
        if args.adapt:
            result["this_adapted"], _ = run_refit(HERE.parent, template, work, adapt=True)
            print("this checkout, discriminant projection:", result["this_adapted"], flush=True)
        if args.compare_with:
            compared, other = run_refit(args.compare_with, template, work)
            result["compared"] = {"code": str(args.compare_with), **compared}
            result["max_abs_vector_difference"] = float(np.abs(sample - other).max())
            print("compared:", result["compared"], flush=True)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
