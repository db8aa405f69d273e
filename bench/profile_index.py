"""Where an index run's time goes: per view (analyzer), decode, and the functions underneath.

Runs the per-file analysis step of an index run (``tonearm.library.worker.run_job``: hash, tags, one decode,
every default analyzer) in this process on N rendered tunes, after one warm-up file (model loading is
reported apart), under cProfile. Reports:

* per stage: decode (``load_for_analysis``), each view's analyzer, and the rest (hashing, tags), as
  CPU-seconds and as seconds of audio per CPU-second;
* per package: where the profiled time is spent (onnxruntime, numpy, scipy, librosa, soxr, ...);
* the functions with the most own time.

Store writes are not in it (the index run commits batches in the parent process; ``bench_index.py``
times the whole run). Shares, not absolute times, are the point: the machine is shared.

    python bench/profile_index.py [--files 24] [--seconds 30] [--out bench-out]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core, as each index worker runs

import argparse  # noqa: E402
import cProfile  # noqa: E402
import json  # noqa: E402
import pstats  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

from bench_index import build  # noqa: E402

from tonearm.analyzers import DEFAULT_VIEWS  # noqa: E402
from tonearm.analyzers.base import Analyzer  # noqa: E402
from tonearm.library import worker  # noqa: E402


def _package(filename: str) -> str:
    """A profiled function's home: ``tonearm.analyzers.musicnn``, ``numpy``, ``onnxruntime``, ``builtins``..."""
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins"
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    if "tonearm" in parts:
        i = len(parts) - 1 - parts[::-1].index("tonearm")
        return ".".join(parts[i:]).removesuffix(".py")
    return "python"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=24)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--out", default="bench-out")
    args = ap.parse_args()
    folder = Path(args.out).resolve() / "profile-index"
    build(folder, args.files + 1, args.seconds)
    paths = sorted(str(p) for p in folder.glob("*.flac"))[: args.files + 1]

    stages: dict[str, float] = defaultdict(float)

    def clocked(fn, label):  # type: ignore[no-untyped-def]
        """``fn`` with its CPU time added to ``stages[label(*args)]``."""

        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            c0 = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                stages[label(*args)] += time.process_time() - c0

        return wrapper

    Analyzer.run = clocked(Analyzer.run, lambda self, *_: f"view {self.view}: {self.key}")  # type: ignore[method-assign]
    worker.load_for_analysis = clocked(worker.load_for_analysis, lambda *_: "decode + resample (load_for_analysis)")
    views = dict(DEFAULT_VIEWS)
    c0 = time.process_time()
    first = worker.run_job(worker.Job(paths[0], views))  # loads every model once
    warm_up = time.process_time() - c0
    if first.error:
        raise SystemExit(f"warm-up file failed: {first.error}")
    stages.clear()
    profile = cProfile.Profile(time.process_time)
    audio_s = 0.0
    c0 = time.process_time()
    for path in paths[1:]:
        profile.enable()
        res = worker.run_job(worker.Job(path, views))
        profile.disable()
        if res.error:
            raise SystemExit(f"{path}: {res.error}")
        audio_s += res.analysed_seconds
    total = time.process_time() - c0
    stages["rest (hash, tags, vectors checks)"] = total - sum(stages.values())

    stats = pstats.Stats(profile)
    by_package: dict[str, float] = defaultdict(float)
    functions = []
    for (filename, line, name), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_package[_package(filename)] += tottime
        functions.append((tottime, f"{_package(filename)}:{name}:{line}"))
    functions.sort(reverse=True)
    ranked = sorted(stages.items(), key=lambda kv: -kv[1])
    per_stage = {k: {"cpu_s": round(v, 2), "share": round(v / total, 3), "x_realtime": round(audio_s / v, 1)}
                 for k, v in ranked if v > 0}  # fmt: skip
    result = {
        "files": len(paths) - 1,
        "audio_s": round(audio_s, 1),
        "cpu_s": round(total, 2),
        "x_realtime_per_core": round(audio_s / total, 1),
        "warm_up_cpu_s": round(warm_up, 2),
        "stages": per_stage,
        "packages": {k: round(v / total, 3) for k, v in sorted(by_package.items(), key=lambda kv: -kv[1])[:15]},
        "functions": [{"own_share": round(t / total, 3), "function": f} for t, f in functions[:20]],
    }
    print(json.dumps(result, indent=2))
    out = Path(args.out) / "profile_index.json"
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
