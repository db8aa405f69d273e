"""Index benchmark: analysis throughput and the cost of an unchanged re-run.

Builds a library of N rendered tunes (music21 corpus through FluidSynth, several
instruments and soundfonts), indexes it from scratch, then indexes it again unchanged.
Reports seconds of audio analysed per second per worker process (per core) and the
re-run time as a fraction of the first run (goal: under 5%).

    python bench/bench_index.py [--files 500] [--seconds 20] [--workers 2] [--out bench-out]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import soundfile as sf

from tonearm.eval.render import INSTRUMENTS, Voice, render
from tonearm.eval.symbolic import STYLE_BPM, STYLES, select_tunes
from tonearm.library.indexer import Indexer
from tonearm.store import open_store

_INSTRUMENTS = ("piano", "violin", "flute", "guitar", "clarinet")


def build(folder: Path, files: int, seconds: float) -> float:
    folder.mkdir(parents=True, exist_ok=True)
    per_style = -(-files // (len(STYLES) * len(_INSTRUMENTS)))
    made = 0
    for style in STYLES:
        for i, tune in enumerate(select_tunes(style, per_style, seed=1)):
            for j, inst in enumerate(_INSTRUMENTS):
                if made >= files:
                    return made * seconds
                path = folder / f"{style}_{i:03d}_{inst}.flac"
                if not path.exists():
                    y = render(
                        [Voice(tune.melody, INSTRUMENTS[inst])],
                        STYLE_BPM[style],
                        ("fluidr3", "timgm6mb")[j % 2],
                        22050,
                        loop_to=seconds,
                        max_seconds=seconds,
                    )
                    sf.write(str(path), y, 22050)
                made += 1
    return made * seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="bench-out")
    args = ap.parse_args()
    out = Path(args.out)
    audio = out / f"audio_{args.files}x{int(args.seconds)}"
    t0 = time.perf_counter()
    total_audio = build(audio, args.files, args.seconds)
    render_s = time.perf_counter() - t0
    lib = out / "library"
    shutil.rmtree(lib, ignore_errors=True)
    store = open_store(str(lib))
    first = Indexer(store).run([str(audio)], workers=args.workers)
    second = Indexer(store).run([str(audio)], workers=args.workers)
    result = {
        "files": first.scanned,
        "audio_seconds": total_audio,
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "render_seconds": round(render_s, 1),
        "first_run_seconds": round(first.elapsed, 2),
        "first_run_failed": len(first.failed),
        "throughput_audio_s_per_s_per_worker": round(first.analysed_seconds / first.analysis_cpu_seconds, 1),
        "throughput_audio_s_per_s_wall": round(first.analysed_seconds / first.elapsed, 1),
        "rerun_seconds": round(second.elapsed, 3),
        "rerun_unchanged": second.unchanged,
        "rerun_fraction_of_first": round(second.elapsed / first.elapsed, 4),
    }
    print(json.dumps(result, indent=2))
    (out / "bench_index.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
