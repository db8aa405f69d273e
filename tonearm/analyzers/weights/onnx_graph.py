"""Build an ONNX graph from weights we already hold, and run it with onnxruntime.

The networks tonearm ports (musicnn, aiSFX) were first written as numpy layers. Their
convolutions were GEMMs over im2col copies: correct, but each layer materialised a tensor
tens of times its input and ran at about half of one core's GEMM speed. onnxruntime's CPU
convolutions tile that work and fuse the element-wise tails, with the same float32
arithmetic, so the same weights give the same outputs (within float rounding) in less time.
Neither TensorFlow nor torch is involved: the graph is assembled node by node here.

Built graphs are kept in tonearm's cache folder (``cached_session``): building one is quick, but
the ``onnx`` package it needs takes 1.3 s to import (most of it ``ml_dtypes``), and every analysis
worker, query process and server would pay that on its first file. onnxruntime alone imports in
0.05 s.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tonearm.config import writable_cache_dir
from tonearm.errors import TonearmError

log = logging.getLogger(__name__)

OPSET = 17
GRAPH_CACHE = "onnx-graphs"  # folder of built graphs inside tonearm's cache folder


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


def graph_key(name: str, weights: Path, sources: Sequence[Path]) -> str:
    """What a built graph depends on: the weights (each file's path, size and modification time; a
    TensorFlow checkpoint is a folder) and the code that builds it (``sources`` and this module),
    byte for byte. Any change to either names another graph."""
    digest = hashlib.sha256(name.encode())
    files = sorted(p for p in weights.rglob("*") if p.is_file()) if weights.is_dir() else [weights]
    for path in files:
        st = path.stat()
        digest.update(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    for source in (*sources, Path(__file__)):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:24]


def cached_session(name: str, weights: Path, sources: Sequence[Path], build: Callable[[], bytes]) -> Any:
    """:func:`session` for the graph ``build`` makes, built once per weights and code (see the module doc).

    A cached graph that onnxruntime cannot load (a damaged file) is built again and replaced; a
    cache folder that cannot be written only means building each time. Writes go through a
    temporary file and a rename, so processes that build at the same moment never read half a graph;
    a new graph replaces the ones of the same name built for other weights or code.
    """
    try:
        path: Path | None = writable_cache_dir() / GRAPH_CACHE / f"{name}-{graph_key(name, weights, sources)}.onnx"
    except OSError:
        path = None
    if path is not None and path.is_file():
        try:
            return session(path.read_bytes())
        except TonearmError:
            raise
        except Exception as exc:  # onnxruntime's own errors for a file it cannot parse
            log.warning("rebuilding the cached %s graph (%s): %s", name, path, str(exc).splitlines()[0][:200])
    model = build()
    if path is not None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(model)
            os.replace(tmp, path)
            for older in path.parent.glob(f"{name}-*.onnx"):  # built for other weights or code: 20 MB each
                if older != path:
                    older.unlink(missing_ok=True)
        except OSError as exc:
            log.debug("could not cache the %s graph in %s: %s", name, path.parent, exc)
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
    return session(model)
