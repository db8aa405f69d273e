"""Which melody extractor: ours, Basic Pitch (ONNX) or librosa pYIN? Measured on the harness.

For each extractor: (1) transcription quality, as the local-alignment score between the true
interval sequence and the extracted one (1 = the whole true melody found in order), on
rendered catalogue clips (solo and with accompaniment) and on hummed/sung queries;
(2) end-to-end query-by-humming MRR when the *queries* are transcribed by that extractor
against a library indexed by `tonearm eval` (catalogue notes from our extractor);
(3) speed in x realtime on one core.

Basic Pitch needs its wheel (``pip install --no-deps basic-pitch==0.4.0``) and onnxruntime;
its TensorFlow dependency is not needed: the ONNX model is run directly.

    python bench/melody_extractors.py --library eval-out/library --cache eval-cache --size small
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from pathlib import Path

import librosa
import numpy as np

from tonearm.analyzers.melody import (
    CATALOGUE_FMIN,
    HOP,
    QUERY_FMIN,
    SR,
    extract_notes,
    intervals,
    notes_from_contour,
)
from tonearm.audio.decode import load
from tonearm.eval import metrics as M
from tonearm.eval.corpus import SIZES, build_corpus
from tonearm.eval.symbolic import STYLE_BPM, bach_families, select_tunes
from tonearm.search.hum import local_alignment, search_notes
from tonearm.store import open_store
from tonearm.store.identity import track_id


def ours(y: np.ndarray, fmin: float):
    return extract_notes([y], [0.0], fmin)


def pyin(y: np.ndarray, fmin: float):
    f0, voiced, _ = librosa.pyin(y, fmin=fmin, fmax=1760.0, sr=SR, frame_length=2048, hop_length=HOP)
    pitch = np.where(np.isnan(f0), 0.0, librosa.hz_to_midi(np.nan_to_num(f0, nan=1.0)))
    return notes_from_contour(pitch, voiced & ~np.isnan(f0))


_BP = None


def basic_pitch(y: np.ndarray, fmin: float):
    """Predominant pitch from Basic Pitch's contour posteriorgram (3 bins/semitone from A0)."""
    global _BP
    import onnxruntime as ort

    if _BP is None:
        spec = importlib.util.find_spec("basic_pitch")
        model = Path(next(iter(spec.submodule_search_locations))) / "saved_models/icassp_2022/nmp.onnx"
        _BP = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    n_samples, overlap = 2 * 22050 - 256, 30 * 256
    hop = n_samples - overlap
    audio = np.concatenate([np.zeros(overlap // 2, np.float32), y.astype(np.float32)])
    wins = [audio[i : i + n_samples] for i in range(0, len(audio), hop)]
    wins = np.stack([np.pad(w, (0, n_samples - len(w))) for w in wins])[..., None]
    contour = _BP.run(["StatefulPartitionedCall:0"], {"serving_default_input_2:0": wins})[0]
    contour = contour[:, 15:-15, :].reshape(-1, contour.shape[-1])[: int(len(y) * 86 / 22050)]
    midi = 21 + (np.arange(contour.shape[1]) - 1) / 3.0
    contour[:, midi < librosa.hz_to_midi(fmin)] = 0
    best = contour.argmax(axis=1)
    voiced = contour.max(axis=1) > 0.3
    frames_pitch = midi[best]
    # Basic Pitch runs at 86 frames/s; resample to our hop so segmentation thresholds match.
    t_ours = np.arange(int(len(y) / HOP)) * HOP / SR
    t_bp = np.arange(len(frames_pitch)) / 86.0
    idx = np.minimum(np.searchsorted(t_bp, t_ours), len(frames_pitch) - 1)
    return notes_from_contour(frames_pitch[idx], voiced[idx])


EXTRACTORS = {"ours (harmonic summation)": ours, "librosa pYIN": pyin, "Basic Pitch (ONNX)": basic_pitch}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--library", required=True)
    ap.add_argument("--cache", default="eval-cache")
    ap.add_argument("--size", default="small")
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--out", default="bench-out")
    args = ap.parse_args()
    corpus = build_corpus(args.size, Path(args.cache).resolve())
    size_cfg = SIZES[args.size]
    tunes = {t.tune_id: t for s in size_cfg.styles for t in select_tunes(s, size_cfg.tunes_per_style, seed=7)}
    for fam in bach_families(size_cfg.chorale_families, seed=7):
        tunes.update({t.tune_id: t for t in fam})
    rng = np.random.default_rng(0)
    rendered = [i for i in corpus.items if i.source == "rendered" and i.version in (0, 2)]
    clips = [rendered[j] for j in rng.permutation(len(rendered))[: args.clips]]
    queries = [q for q in corpus.queries if q.task == "qbh"][: args.queries]
    store = open_store(args.library, create=False)
    results = {}
    for name, fn in EXTRACTORS.items():
        if name.startswith("Basic") and importlib.util.find_spec("basic_pitch") is None:
            results[name] = {"skipped": "pip install --no-deps basic-pitch==0.4.0"}
            continue
        row: dict[str, float] = {}
        audio_s = cpu_s = 0.0
        for label, subset in (("solo", [c for c in clips if not c.accompanied]),
                              ("accompanied", [c for c in clips if c.accompanied])):  # fmt: skip
            scores = []
            for item in subset:
                y = load(item.path, SR, 0.0, 15.0)
                t0 = time.process_time()
                est = fn(y, CATALOGUE_FMIN)
                cpu_s += time.process_time() - t0
                audio_s += len(y) / SR
                # The notes that fit in these 15 s (versions 2 play 1.15x faster): how many of their
                # intervals does the extraction contain, in order?
                quarters = 15.0 * STYLE_BPM[item.style] * (1.15 if item.version == 2 else 1.0) / 60.0
                true_iv = intervals([p for o, _, p in tunes[item.tune_id].melody if o < quarters])
                scores.append(local_alignment(true_iv[true_iv != 0], intervals(est)).score)
            row[f"catalogue {label}: alignment"] = M.mean(scores)
        rr = []
        for q in queries:
            y = load(q.path, SR)
            t0 = time.process_time()
            notes = fn(y, QUERY_FMIN)
            cpu_s += time.process_time() - t0
            audio_s += len(y) / SR
            if len(intervals(notes)) < 4:
                rr.append(0.0)
                continue
            ids = [r["id"] for r in search_notes(store, notes, 100)]
            rel = {track_id(os.path.realpath(i.path)) for i in corpus.items if i.item_id in set(q.relevant)}
            rr.append(M.reciprocal_rank(ids, rel))
        row["QBH MRR (queries)"] = M.mean(rr)
        row["QBH top-10"] = M.mean(float(r >= 0.1) for r in rr)
        row["x realtime per core"] = audio_s / max(cpu_s, 1e-9)
        results[name] = row
        print(name, json.dumps(row))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "melody_extractors.json").write_text(json.dumps(results, indent=2))
    cols = sorted({c for r in results.values() for c in r if c != "skipped"})
    print("| extractor | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for name, row in results.items():
        print(f"| {name} | " + " | ".join(f"{row[c]:.3f}" if c in row else "–" for c in cols) + " |")


if __name__ == "__main__":
    main()
