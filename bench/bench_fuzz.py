"""Thousands of hostile and odd files through a real ``tonearm index``: does every one end indexed or
failed with a reason, does the run finish, how long does a file take, how much memory does a worker use?

Cases come from :mod:`tonearm.eval.fuzz` (seeded: the same cases for the same ``--seed``). The index
run is a subprocess; its worker processes are sampled every 0.2 s (peak resident memory from
``/proc/PID/status`` VmHWM, and how long each was busy), and per-file analysis time comes from the
failures' and rows' own timing where the store keeps it. Reported: cases by kind, indexed, failed by
reason (numbers stripped, so "truncated: header says 2.0 s, 1.1 s decodable" groups with its kin),
cases neither indexed nor failed (must be 0), the run's exit status and wall time, the peak memory of
the main process and of any worker, and time-limit failures.

    python bench/bench_fuzz.py [--cases 2000] [--seed 0] [--workers 2] [--out bench/results/fuzz.json]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from procmem import peak_mib

from tonearm.eval.fuzz import make_cases
from tonearm.store import open_store


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    kids = [int(p) for p in out.split()]
    return kids + [g for k in kids for g in _descendants(k)]


def _sample(proc: subprocess.Popen, peaks: dict[int, int], stop: threading.Event) -> None:
    while not stop.is_set() and proc.poll() is None:
        for pid in [proc.pid, *_descendants(proc.pid)]:
            peaks[pid] = max(peaks.get(pid, 0), peak_mib(pid) * 1024)
        time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="bench/results/fuzz.json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tonearm-fuzz-"))
    t0 = time.perf_counter()
    cases = make_cases(work / "music", args.cases, seed=args.seed)
    made = time.perf_counter() - t0
    lib = work / "lib"
    cmd = [sys.executable, "-m", "tonearm.cli", "index", str(work / "music"), "-l", str(lib), "-j",
           str(args.workers), "--json"]  # fmt: skip
    peaks: dict[int, int] = {}
    stop = threading.Event()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = threading.Thread(target=_sample, args=(proc, peaks, stop), daemon=True)
    sampler.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    store = open_store(str(lib), create=False)
    indexed = {r["path"] for r in store.scan(columns=["path"])}
    failed = {f["path"]: f["reason"] for f in store.failures()}
    by_reason: collections.Counter[str] = collections.Counter()
    by_kind: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    unaccounted = []
    for case in cases:
        shown = os.fsencode(case.path).decode("utf-8", "backslashreplace")
        if str(case.path) in indexed:
            by_kind[case.kind]["indexed"] += 1
        elif shown in failed:
            by_kind[case.kind]["failed"] += 1
            by_reason[re.sub(r"\d+(\.\d+)?", "N", failed[shown])] += 1
        else:
            by_kind[case.kind]["unaccounted"] += 1
            unaccounted.append(str(case.path))
    main_peak = peaks.get(proc.pid, 0)
    worker_peaks = [v for k, v in peaks.items() if k != proc.pid]
    result = {
        "cases": len(cases),
        "seed": args.seed,
        "workers": args.workers,
        "exit_status": proc.returncode,
        "traceback": "Traceback" in err,
        "made_s": round(made, 1),
        "index_wall_s": round(wall, 1),
        "per_case_ms": round(1000 * wall / max(1, len(cases)), 1),
        "indexed": sum(c["indexed"] for c in by_kind.values()),
        "failed": sum(c["failed"] for c in by_kind.values()),
        "unaccounted": unaccounted[:20],
        "time_limit_failures": sum(n for r, n in by_reason.items() if "time limit" in r),
        "worker_crash_failures": sum(n for r, n in by_reason.items() if "worker crashed" in r),
        "peak_rss_mib": {
            "main": round(main_peak / 1024, 1),
            "worker_max": round(max(worker_peaks, default=0) / 1024, 1),
            "workers_sampled": len(worker_peaks),
        },
        "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
        "failures_by_reason": dict(by_reason.most_common()),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("failures_by_reason", "by_kind")}, indent=1))
    subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
