"""How far exact arithmetic can take the fused sound view: its networks against this core's fp32 peak.

Issue 21 asks for the fused view at 100 s of audio per CPU second with outputs within 1e-3 of
today's. This script measures, on one core as an index worker runs:

* the core's fp32 peak as onnxruntime reaches it: a large MatMul and a wide 3x3 convolution
  (multiply-adds per second; the better of the two is the roof);
* each network's multiply-adds per window (counted from the graph tonearm builds, after shape
  inference) and the rate it runs at, as a share of that roof;
* the fused view on rendered files, with the time inside the networks' sessions split out, and
  two bounds: the view's speed were the networks to run at the roof, and were they free.

If the first bound is under the goal, no exact rewrite of the same convolutions reaches it; what
is left computes fewer multiply-adds (fewer windows, Winograd's transforms for 3x3 layers) or
cheaper ones (int8, bf16: see ``int8_probe.py``).

    python bench/network_roofline.py [--files 12] [--seconds 30] [--out bench-out]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core, as each index worker runs

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from bench_index import build  # noqa: E402
from int8_probe import graphs  # noqa: E402

from tonearm.analyzers import aisfx, get_analyzer, musicnn  # noqa: E402
from tonearm.analyzers.weights import onnx_graph  # noqa: E402
from tonearm.audio.segments import load_for_analysis  # noqa: E402

_PATCH = (musicnn.N_FRAMES, musicnn.N_MELS)
WINDOW_SHAPES = {"MSD_musicnn": _PATCH, "MTT_musicnn": _PATCH, "aisfx": (aisfx.BLOCK, aisfx.N_MELS)}


def macs_per_window(model: bytes) -> int:
    """Multiply-adds of one window through the graph's Conv, MatMul and Gemm nodes."""
    import onnx

    proto = onnx.load_from_string(model)
    for value in proto.graph.input:  # one window: batch 1
        value.type.tensor_type.shape.dim[0].dim_value = 1
    inferred = onnx.shape_inference.infer_shapes(proto)
    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output)
    }
    weights = {t.name: list(t.dims) for t in inferred.graph.initializer}
    total = 0
    for node in inferred.graph.node:
        if node.op_type == "Conv":
            kernel = weights[node.input[1]]  # (out, in / group, kh, kw)
            total += int(np.prod(shapes[node.output[0]])) * int(np.prod(kernel[1:]))
        elif node.op_type in ("MatMul", "Gemm"):
            a = shapes.get(node.input[0]) or weights[node.input[0]]
            b = weights.get(node.input[1]) or shapes[node.input[1]]
            total += int(np.prod(a)) * b[-1]
    return total


def best_rates(calls: dict[str, tuple[Callable[[], object], int]], rounds: int) -> dict[str, float]:
    """Giga multiply-adds per second of each (call, multiply-adds): best of ``rounds`` interleaved rounds.

    Interleaved and best-of: the machine is shared, and a neighbour's burst should not land on
    one measurement only.
    """
    best = dict.fromkeys(calls, float("inf"))
    for run, _ in calls.values():
        run()  # warm-up
    for _ in range(rounds):
        for name, (run, _) in calls.items():
            t0 = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - t0)
    return {name: macs / best[name] / 1e9 for name, (_, macs) in calls.items()}


def roof_calls() -> dict[str, tuple[Callable[[], object], int]]:
    """This core's fp32 multiply-add rate in onnxruntime: a 1024-cube MatMul and a 256->256 3x3 conv."""
    rng = np.random.default_rng(0)
    g = onnx_graph.GraphBuilder("matmul")
    g.op("MatMul", "a", g.const(rng.standard_normal((1024, 1024))), out="y")
    matmul = onnx_graph.session(g.serialize({"a": [1024, 1024]}, {"y": [1024, 1024]}))
    a = rng.standard_normal((1024, 1024)).astype(np.float32)
    g = onnx_graph.GraphBuilder("conv")
    g.op("Conv", "x", g.const(rng.standard_normal((256, 256, 3, 3)) * 0.02), pads=[1, 1, 1, 1], out="y")
    conv = onnx_graph.session(g.serialize({"x": [8, 256, 32, 32]}, {"y": [8, 256, 32, 32]}))
    x = rng.standard_normal((8, 256, 32, 32)).astype(np.float32)
    return {
        "matmul": (lambda: matmul.run(None, {"a": a}), 1024**3),
        "conv3x3": (lambda: conv.run(None, {"x": x}), 8 * 32 * 32 * 256 * 256 * 9),
    }


def network_calls(batch: int) -> tuple[dict[str, tuple[Callable[[], object], int]], dict[str, int]]:
    """Each network on ``batch`` windows of random input, and its multiply-adds per window."""
    calls, per_window = {}, {}
    for name, model in graphs().items():
        per_window[name] = macs_per_window(model)
        sess = onnx_graph.session(model)
        feed = {sess.get_inputs()[0].name: np.random.default_rng(4).random((batch, *WINDOW_SHAPES[name]), np.float32)}
        calls[name] = (lambda s=sess, f=feed: s.run(None, f), per_window[name] * batch)
    return calls, per_window


def fused_split(files: list[Path]) -> dict[str, float]:
    """The fused view's CPU seconds on the files, and those spent inside each network's session."""
    import onnxruntime as ort

    analyzer = get_analyzer("fused")
    analyzer.run(load_for_analysis(str(files[0]), analyzer.sample_rate))  # weights loaded, kernels compiled
    names = {id(musicnn.load_net(n)._session): n for n in ("MSD_musicnn", "MTT_musicnn")}
    names[id(aisfx.load_net()._session)] = "aisfx"
    inside = dict.fromkeys(names.values(), 0.0)
    original = ort.InferenceSession.run

    def timed_run(self, *args, **kwargs):
        t0 = time.process_time()
        try:
            return original(self, *args, **kwargs)
        finally:
            inside[names[id(self)]] += time.process_time() - t0

    audio_s = total = 0.0
    ort.InferenceSession.run = timed_run
    try:
        for f in files:
            audio = load_for_analysis(str(f), analyzer.sample_rate)
            t0 = time.process_time()
            analyzer.run(audio)
            total += time.process_time() - t0
            audio_s += audio.analysed_seconds
    finally:
        ort.InferenceSession.run = original
    return {"audio_s": audio_s, "cpu_s": total, **{f"{n}_cpu_s": v for n, v in inside.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--batch", type=int, default=8, help="windows per network call (a 30-s file gives 5-7)")
    ap.add_argument("--out", default="bench-out")
    args = ap.parse_args()
    out = Path(args.out)
    folder = out / f"audio_{args.files}x{int(args.seconds)}"
    build(folder, args.files, args.seconds)
    files = sorted(folder.glob("*.flac"))
    calls, per_window = network_calls(args.batch)
    peak_calls = roof_calls()
    rates = best_rates({**peak_calls, **calls}, args.rounds)
    peak = {f"{name}_gmacs": rates[name] for name in peak_calls}
    top = max(peak.values())
    nets = {
        n: {"gmacs_per_window": per_window[n] / 1e9, "gmacs": rates[n], "share_of_roof": rates[n] / top} for n in calls
    }
    split = fused_split(files)
    net_s = sum(split[f"{n}_cpu_s"] for n in nets)
    # The same multiply-adds at the roof: each network's time scaled by its share of the roof.
    at_roof = sum(split[f"{n}_cpu_s"] * e["share_of_roof"] for n, e in nets.items())
    result = {
        "command": f"python bench/network_roofline.py --files {args.files} --seconds {args.seconds:g}",
        "roof_gmacs": {k: round(v, 1) for k, v in peak.items()},
        "networks": {k: {f: round(v, 3) for f, v in e.items()} for k, e in nets.items()},
        "fused": {
            "audio_s": round(split["audio_s"], 1),
            "x_realtime": round(split["audio_s"] / split["cpu_s"], 1),
            "network_share": round(net_s / split["cpu_s"], 3),
            "network_shares": {n: round(split[f"{n}_cpu_s"] / split["cpu_s"], 3) for n in nets},
            "x_realtime_networks_at_roof": round(split["audio_s"] / (split["cpu_s"] - net_s + at_roof), 1),
            "x_realtime_networks_free": round(split["audio_s"] / (split["cpu_s"] - net_s), 1),
        },
    }
    print(json.dumps(result, indent=2))
    out.mkdir(parents=True, exist_ok=True)
    (out / "network_roofline.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
