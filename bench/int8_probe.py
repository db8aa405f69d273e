"""What int8 would buy the sound view's networks, measured (a probe for issue 21; not used by tonearm).

The fused view's networks run in fp32 and sit near what this CPU's fp32 convolutions do, so the
analysis-speed goal would need cheaper arithmetic. This script quantises the graphs tonearm builds
(onnxruntime static quantisation: uint8 activations calibrated on a few files, per-channel int8
weights) and reports, per network, the time per patch in fp32 and int8 (one thread, interleaved
rounds) and how far the track-level mean embedding moves (cosine to fp32, on files not used for
calibration). Both change analyzer outputs beyond tonearm's 1e-3 parity rule, which is why the
shipped view does not use them.

    python bench/int8_probe.py --audio-dir DIR [--calibration 12] [--files 24] [--out bench-out]
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"  # one core, as an index worker

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from tonearm.analyzers import aisfx, musicnn
from tonearm.analyzers.fused import PATCH_STRIDE
from tonearm.analyzers.weights import onnx_graph
from tonearm.audio.segments import load_for_analysis


def graphs() -> dict[str, bytes]:
    """The serialized fp32 graphs tonearm runs, captured as the networks are built."""
    built: list[bytes] = []
    original = onnx_graph.session
    onnx_graph.session = lambda model: built.append(model) or original(model)
    try:
        musicnn.MusicnnNet("MSD_musicnn")
        musicnn.MusicnnNet("MTT_musicnn")
        aisfx.AisfxNet()
    finally:
        onnx_graph.session = original
    return dict(zip(("MSD_musicnn", "MTT_musicnn", "aisfx"), built, strict=True))


def inputs(name: str, path: Path) -> np.ndarray:
    """One file's network input, every PATCH_STRIDE-th patch/block, as the fused view feeds it."""
    audio = load_for_analysis(str(path), aisfx.SR)
    if name == "aisfx":
        return np.concatenate([aisfx.blocks(aisfx.log_mel(y), hop=aisfx.BLOCK) for y in audio.at(aisfx.SR)])[
            ::PATCH_STRIDE
        ]
    return musicnn.mel_patches(audio.at(musicnn.SR))[::PATCH_STRIDE]


def main() -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--audio-dir", required=True, help="audio files (flac/ogg/wav/mp3), searched recursively")
    ap.add_argument("--calibration", type=int, default=12)
    ap.add_argument("--files", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default="bench-out")
    args = ap.parse_args()
    found = sorted(p for ext in ("flac", "ogg", "wav", "mp3") for p in Path(args.audio_dir).rglob(f"*.{ext}"))
    picked = [found[i] for i in np.random.default_rng(0).permutation(len(found))[: args.calibration + args.files]]
    calibration, test = picked[: args.calibration], picked[args.calibration :]

    class Reader(CalibrationDataReader):
        def __init__(self, key: str, batches: list[np.ndarray]) -> None:
            self._it = iter([{key: b} for b in batches])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._it, None)

    result = {"calibration_files": len(calibration), "test_files": len(test), "networks": {}}
    for name, model in graphs().items():
        key, output = ("spec", "embedding") if name == "aisfx" else ("patches", "penultimate")
        with tempfile.TemporaryDirectory() as tmp:
            fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
            fp32.write_bytes(model)
            quantize_static(str(fp32), str(int8), Reader(key, [inputs(name, p)[:8] for p in calibration]),
                            quant_format=QuantFormat.QOperator, per_channel=True, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, op_types_to_quantize=["Conv", "MatMul"])  # fmt: skip
            sessions = {"fp32": onnx_graph.session(model), "int8": onnx_graph.session(int8.read_bytes())}
        batches = [inputs(name, p) for p in test]
        seconds: dict[str, list[float]] = {k: [] for k in sessions}
        for _ in range(args.rounds):
            for kind, sess in sessions.items():
                t0 = time.process_time()
                for b in batches:
                    sess.run([output], {key: b})
                seconds[kind].append(time.process_time() - t0)
        patches = sum(len(b) for b in batches)
        cosines = []
        for b in batches:
            a, q = (sessions[k].run([output], {key: b})[0].mean(axis=0) for k in ("fp32", "int8"))
            cosines.append(float(a @ q / (np.linalg.norm(a) * np.linalg.norm(q))))
        ms = {k: round(float(np.median(v)) / patches * 1000, 2) for k, v in seconds.items()}
        result["networks"][name] = {
            "patches": patches,
            "ms_per_patch_fp32": ms["fp32"],
            "ms_per_patch_int8": ms["int8"],
            "speedup": round(ms["fp32"] / ms["int8"], 2),
            "track_cosine_min": round(min(cosines), 4),
            "track_cosine_median": round(float(np.median(cosines)), 4),
        }
        print(name, result["networks"][name], flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "int8_probe.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
