"""Build an ONNX graph from weights we already hold, and run it with onnxruntime.

The networks tonearm ports (musicnn, aiSFX) were first written as numpy layers. Their
convolutions were GEMMs over im2col copies: correct, but each layer materialised a tensor
tens of times its input and ran at about half of one core's GEMM speed. onnxruntime's CPU
convolutions tile that work and fuse the element-wise tails, with the same float32
arithmetic, so the same weights give the same outputs (within float rounding) in less time.
Neither TensorFlow nor torch is involved: the graph is assembled node by node here.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from tonearm.errors import TonearmError

OPSET = 17


class GraphBuilder:
    """Collects nodes and constant tensors; each op returns the name of its (first) output."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._nodes: list[Any] = []
        self._consts: list[Any] = []
        self._count = 0

    def _fresh(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, value: np.ndarray | list[int], dtype: Any = np.float32) -> str:
        from onnx import numpy_helper

        name = self._fresh("c")
        self._consts.append(numpy_helper.from_array(np.ascontiguousarray(np.asarray(value, dtype=dtype)), name))
        return name

    def ints(self, values: list[int]) -> str:
        """An int64 constant (shapes, axes, pads)."""
        return self.const(values, np.int64)

    def op(self, op_type: str, *inputs: str, out: str | None = None, **attrs: Any) -> str:
        from onnx import helper

        name = out or self._fresh(op_type.lower())
        self._nodes.append(helper.make_node(op_type, list(inputs), [name], **attrs))
        return name

    def serialize(self, inputs: dict[str, list[int | None]], outputs: dict[str, list[int | None]]) -> bytes:
        """The model as bytes: float32 inputs and outputs of the given shapes (None = any size)."""
        from onnx import TensorProto, checker, helper

        graph = helper.make_graph(
            self._nodes,
            self.name,
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs.items()],
            self._consts,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tonearm")
        model.ir_version = 8  # readable by every onnxruntime tonearm supports (>= 1.17)
        checker.check_model(model)
        return model.SerializeToString()


def session(model: bytes) -> Any:
    """An onnxruntime session for a serialized graph, with every graph optimisation on.

    That includes onnxruntime's channel-blocked (NCHWc) convolutions, which pay for both ported
    networks with the locked onnxruntime 1.32, outputs equal within 1e-5 (one thread, this project's
    2-core machine: musicnn 28 against 34 ms a patch; the fused view, six interleaved rounds over
    480 s of rendered audio, median 54.7 against 50.9 s of audio per second). Older onnxruntime
    releases made musicnn's single-channel, wide-kernel front end slower in that layout, which is
    why it once opted out.

    Threads: as many as OMP_NUM_THREADS says (the index run's workers set it to 1, one process per
    core); otherwise onnxruntime's default, all cores, which is right for a single query.
    """
    try:
        import onnxruntime as ort
    except ImportError as exc:  # a core dependency; only a broken install lands here
        raise TonearmError("onnxruntime is not installed: pip install onnxruntime") from exc
    opts = ort.SessionOptions()
    threads = int(os.environ.get("OMP_NUM_THREADS") or 0)
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
