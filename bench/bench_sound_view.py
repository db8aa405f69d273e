"""Sound-view throughput: seconds of audio analysed per second on one core, per analyzer.

Each sound analyzer (the DSP statistics, musicnn, aiSFX, and the shipped fusion) analyses the
same rendered files in one process with one BLAS/OpenMP thread, as an index worker does.
Timed twice per file set: decode + analysis (what an index run pays) and analysis alone; the
DSP analyzer, measured in the same run, is the reference the others are divided by, so the
ratios survive a noisy machine. Goal for the default view: at least 30 s of audio per second.

    python bench/bench_sound_view.py [--files 60] [--seconds 20] [--out bench-out]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core, as each index worker runs

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from bench_index import build  # noqa: E402

from tonearm.analyzers import DEFAULT_VIEWS, get_analyzer  # noqa: E402
from tonearm.audio.segments import load_for_analysis  # noqa: E402

ANALYZERS = ("dsp", "musicnn", "aisfx", "fused")


def measure(name: str, files: list[Path]) -> dict[str, float]:
    analyzer = get_analyzer(name)
    analyzer.run(load_for_analysis(str(files[0]), analyzer.sample_rate))  # load weights outside the timing
    audio_s = decode_cpu = analyse_cpu = 0.0
    for f in files:
        t0 = time.process_time()
        audio = load_for_analysis(str(f), analyzer.sample_rate)
        t1 = time.process_time()
        analyzer.run(audio)
        t2 = time.process_time()
        audio_s += audio.analysed_seconds
        decode_cpu += t1 - t0
        analyse_cpu += t2 - t1
    return {
        "audio_seconds": round(audio_s, 1),
        "with_decode_x": round(audio_s / (decode_cpu + analyse_cpu), 1),
        "analysis_only_x": round(audio_s / analyse_cpu, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=60)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--out", default="bench-out")
    args = ap.parse_args()
    out = Path(args.out)
    folder = out / f"audio_{args.files}x{int(args.seconds)}"
    build(folder, args.files, args.seconds)
    files = sorted(folder.glob("*.flac"))[: args.files]
    rows = {name: measure(name, files) for name in ANALYZERS}
    for row in rows.values():
        row["vs_dsp_with_decode"] = round(row["with_decode_x"] / rows["dsp"]["with_decode_x"], 2)
    result = {"default": DEFAULT_VIEWS["sound"], "files": len(files), "cpu_count": os.cpu_count(), "analyzers": rows}
    print(json.dumps(result, indent=2))
    (out / "bench_sound_view.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
