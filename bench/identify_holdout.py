"""``identify`` on clips nobody tuned it on: fresh excerpts of the eval library's real recordings, and real music
from packages the library does not hold.

``tonearm eval --size small``'s identify task set the acceptance bars (``tonearm.search.identify``), on 150
excerpts and 46 out-of-library clips: figures measured on the set a rule was chosen on flatter it. This
draws other clips from the same indexed library, with their own seeds:

* in the library: eight 10-s excerpts of each real recording at random offsets (white noise 10 dB
  twice, white noise 0 dB, clean, telephone band + reverb, mp3 32 kbit/s, 5% faster, a semitone
  up): R@1 per distortion and the share of right answers whose offset is within 0.5 s;
* out of the library: three excerpts of each real recording of other Debian packages (the eval
  packages' files the library did not pick, plus ``--packages``: other games' soundtracks), under
  the eval's eight distortions in turn: false accepts per distortion (any answer is one).

    python bench/identify_holdout.py --library eval-out/library [--cache eval-cache] [--out FILE.json]

The library is the one ``tonearm eval --size small`` leaves in its ``--out`` folder; ``--cache`` is its corpus
cache (default: ``eval-cache`` beside it). Clips are written once into ``<cache>/holdout`` and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

from tonearm.analyzers.landmarks import SR
from tonearm.audio.decode import load, probe
from tonearm.errors import TonearmError
from tonearm.eval import distort
from tonearm.eval.corpus import SIZES, build_corpus, fetch_packages
from tonearm.eval.corpus import SR as CORPUS_SR
from tonearm.search.identify import identify_audio
from tonearm.store import open_store
from tonearm.store.identity import track_id

IN_LIBRARY = ("noise_10db", "noise_10db", "noise_0db", "clean", "phone_reverb", "mp3_32k", "speed_1.05", "pitch_+1")
OUTSIDE_PER_FILE = 3
PACKAGES = ("hedgewars-data", "supertux-data")  # soundtracks of other games, fetched like the eval's


def excerpt(src: str, dest: Path, dist: str, seed: tuple[int, ...]) -> tuple[Path, float]:
    """A 10-s excerpt of ``src`` at an offset drawn from ``seed``, distorted at the corpus' rate as the eval's
    excerpts are (so "10 dB" is the same noise: at 22.05 kHz part of it falls above the fingerprint's band),
    written once; (path, offset)."""
    rng = np.random.default_rng(seed)
    offset = float(rng.uniform(0, max(0.0, probe(src).duration - 10.0)))
    if not dest.exists():
        sf.write(str(dest), distort.apply(dist, load(src, CORPUS_SR, offset, 10.0), CORPUS_SR, rng), CORPUS_SR)
    return dest, offset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--library", required=True)
    ap.add_argument("--cache", default=None)
    ap.add_argument("--packages", default=",".join(PACKAGES))
    ap.add_argument("--out", default="bench/results/identify_holdout.json")
    args = ap.parse_args()
    library = Path(args.library)
    cache = Path(args.cache) if args.cache else library.parent.parent / "eval-cache"
    corpus = build_corpus("small", cache)
    store = open_store(str(library))
    clips = cache / "holdout"
    clips.mkdir(parents=True, exist_ok=True)
    real = [i for i in corpus.items if i.source == "real"]
    held = {os.path.realpath(i.path) for i in real}
    files, notes = fetch_packages(SIZES["small"].real_packages + tuple(p for p in args.packages.split(",") if p),
                                  cache / "debian")  # fmt: skip
    foreign = sorted({str(f) for _, f, _ in files if os.path.realpath(f) not in held})
    t0 = time.perf_counter()

    hits: dict[str, list[bool]] = defaultdict(list)
    offsets_ok: list[bool] = []
    for n, item in enumerate(real):
        want = track_id(os.path.realpath(item.path))
        for j, dist in enumerate(IN_LIBRARY):
            path, offset = excerpt(item.path, clips / f"in-{n:03d}-{j}-{dist}.flac", dist, (77, n, j))
            results = identify_audio(store, load(str(path), SR), k=5)["results"]
            right = bool(results) and results[0]["id"] == want
            hits[dist].append(right)
            hits["all"].append(right)
            if right:
                offsets_ok.append(abs(results[0]["offset"] - offset) <= 0.5)

    accepted: dict[str, list[bool]] = defaultdict(list)
    for n, src in enumerate(foreign):
        for j in range(OUTSIDE_PER_FILE):
            dist = distort.DISTORTIONS[(OUTSIDE_PER_FILE * n + j) % len(distort.DISTORTIONS)]
            path, _ = excerpt(src, clips / f"out-{n:03d}-{j}-{dist}.flac", dist, (78, n, j))
            try:
                answered = bool(identify_audio(store, load(str(path), SR), k=5)["results"])
            except TonearmError:  # too short or silent: no answer, which is right
                answered = False
            accepted[dist].append(answered)
            accepted["all"].append(answered)

    report = {
        "library": str(library),
        "in_library": {d: {"r@1": round(float(np.mean(v)), 3), "n": len(v)} for d, v in hits.items()},
        "offset_within_0.5_s": round(float(np.mean(offsets_ok)), 3) if offsets_ok else None,
        "out_of_library": {d: {"accepted": int(np.sum(v)), "n": len(v)} for d, v in accepted.items()},
        "out_of_library_files": len(foreign),
        "notes": notes,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
