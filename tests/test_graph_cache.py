"""Built network graphs are cached: later processes skip the ``onnx`` import (1.3 s) and the build."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tonearm.analyzers.weights import onnx_graph

# Prints the three networks' outputs on a fixed input, and whether the onnx package was imported.
_PROBE = """
import json, sys
import numpy as np
from tonearm.analyzers import aisfx, musicnn
x = np.random.default_rng(0).random((2, 187, 96), dtype=np.float32)
out = {m: musicnn.load_net(m).forward(x)["penultimate"].tolist() for m in ("MSD_musicnn", "MTT_musicnn")}
out["aisfx"] = aisfx.load_net().forward(x[:, :100]).tolist()
print(json.dumps({"onnx_imported": "onnx" in sys.modules, "out": out}))
"""


def _probe(cache) -> dict:
    env = dict(os.environ, TONEARM_CACHE=str(cache), OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout)


def test_a_second_process_runs_the_cached_graphs_without_importing_onnx(tmp_path):
    first = _probe(tmp_path / "cache")
    cached = sorted(p.name.split("-")[0] for p in (tmp_path / "cache" / onnx_graph.GRAPH_CACHE).iterdir())
    assert first["onnx_imported"] and cached == ["MSD_musicnn", "MTT_musicnn", "aisfx"]
    second = _probe(tmp_path / "cache")
    assert not second["onnx_imported"]
    for name, values in first["out"].items():
        np.testing.assert_allclose(second["out"][name], values, rtol=0, atol=1e-6)


def _tiny_graph() -> bytes:
    g = onnx_graph.GraphBuilder("tiny")
    g.op("Relu", "x", out="y")
    return g.serialize({"x": [None, 3]}, {"y": [None, 3]})


class _Builds:
    """A build function that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> bytes:
        self.calls += 1
        return _tiny_graph()


def _relu(sess) -> list[float]:
    return sess.run(None, {"x": np.array([[-1.0, 0.5, 2.0]], np.float32)})[0].tolist()


@pytest.fixture
def weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TONEARM_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "weights.bin"
    path.write_bytes(b"weights")
    return path


def test_the_graph_is_built_once_and_a_damaged_copy_is_rebuilt(weights, tmp_path):
    build = _Builds()
    for _ in range(2):
        assert _relu(onnx_graph.cached_session("tiny", weights, (), build)) == [[0.0, 0.5, 2.0]]
    assert build.calls == 1
    (cached,) = (tmp_path / "cache" / onnx_graph.GRAPH_CACHE).iterdir()
    cached.write_bytes(b"not a graph")
    assert _relu(onnx_graph.cached_session("tiny", weights, (), build)) == [[0.0, 0.5, 2.0]]
    assert build.calls == 2 and cached.read_bytes() == _tiny_graph()
    source = tmp_path / "builder.py"  # the code changed: built again, and the old graph goes
    source.write_text("x = 1\n")
    onnx_graph.cached_session("tiny", weights, (source,), build)
    (replaced,) = (tmp_path / "cache" / onnx_graph.GRAPH_CACHE).iterdir()
    assert build.calls == 3 and replaced != cached


def test_other_weights_or_other_code_name_another_graph(weights, tmp_path):
    source = tmp_path / "builder.py"
    source.write_text("x = 1\n")
    key = onnx_graph.graph_key("tiny", weights, (source,))
    assert onnx_graph.graph_key("tiny", weights, (source,)) == key
    source.write_text("x = 2\n")
    assert onnx_graph.graph_key("tiny", weights, (source,)) != key
    key = onnx_graph.graph_key("tiny", weights, (source,))
    os.utime(weights, ns=(0, 10**18))
    assert onnx_graph.graph_key("tiny", weights, (source,)) != key
    folder = tmp_path / "checkpoint"  # a TensorFlow checkpoint is a folder of files
    folder.mkdir()
    (folder / "a.index").write_bytes(b"1")
    key = onnx_graph.graph_key("tiny", folder, ())
    (folder / "a.index").write_bytes(b"12")
    assert onnx_graph.graph_key("tiny", folder, ()) != key


def test_a_cache_folder_that_cannot_be_written_means_building_each_time(weights, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(onnx_graph, "writable_cache_dir", lambda: blocker)  # its GRAPH_CACHE cannot be made
    build = _Builds()
    for _ in range(2):
        assert _relu(onnx_graph.cached_session("tiny", weights, (), build)) == [[0.0, 0.5, 2.0]]
    assert build.calls == 2 and not list(tmp_path.glob("**/*.onnx")) and not list(tmp_path.glob("**/*.tmp"))

    def no_folder():
        raise OSError("no writable cache folder")

    monkeypatch.setattr(onnx_graph, "writable_cache_dir", no_folder)
    assert _relu(onnx_graph.cached_session("tiny", weights, (), build)) == [[0.0, 0.5, 2.0]]
    assert build.calls == 3


def test_the_cache_falls_back_to_a_private_temporary_folder(tmp_path, monkeypatch):
    from tonearm.config import writable_cache_dir

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("TONEARM_CACHE", str(blocker / "cache"))  # under a file: cannot be made
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    fallback = writable_cache_dir()
    assert fallback == tmp_path / "tmp" / f"tonearm-{os.getuid()}" and fallback.stat().st_mode & 0o077 == 0
    if os.geteuid() == 0:  # a folder of that name that someone else made first is not used
        os.chown(fallback, 4321, 4321)
        with pytest.raises(OSError):
            writable_cache_dir()
