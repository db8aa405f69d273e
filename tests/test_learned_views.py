"""Learned sound views (musicnn, aiSFX, fused) through the real index and query paths."""

from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pytest
from conftest import run_cli

from tonearm.analyzers import get_analyzer
from tonearm.analyzers.normalize import Standardizer

needs_weights = pytest.mark.skipif(
    importlib.util.find_spec("musicnn") is None or importlib.util.find_spec("aisfx") is None,
    reason="pip install --no-deps musicnn==0.1.0 aisfx==0.1.2",
)


def test_fusion_weights_balance_blocks_of_different_sizes():
    fused = get_analyzer("fused")
    w = fused.dim_weights()
    assert w.shape == (fused.dim,)
    from tonearm.analyzers.fused import BLOCKS

    start = 0
    for _, size, weight in BLOCKS:  # every block's weight vector has norm equal to its weight
        assert np.linalg.norm(w[start : start + size]) == pytest.approx(weight)
        start += size
    raw = np.random.default_rng(0).normal(size=(20, fused.dim)) * np.linspace(1, 50, fused.dim)
    std = Standardizer.fit("fused@1", raw, w)
    again = Standardizer.from_json(json.loads(json.dumps(std.to_json())))
    assert np.allclose(again.apply(raw), std.apply(raw))


@needs_weights
@pytest.mark.parametrize("analyzer", ["musicnn", "fused"])
def test_index_with_learned_view_stores_tags_and_answers_queries(tmp_path, music_dir, analyzer):
    music = tmp_path / "music"
    shutil.copytree(music_dir, music)
    lib = str(tmp_path / "lib")
    res = run_cli("index", str(music), "--library", lib, "--views", f"sound={analyzer}", "-j", "2", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["added"] == 12
    stats = json.loads(run_cli("stats", "--library", lib, "--json").stdout)
    assert stats["views"]["sound"] == get_analyzer(analyzer).dim
    assert "tag_rock" in stats["custom_fields"]  # tag probabilities are filterable columns
    target = str(music / "percussive" / "percussive_0.flac")
    info = json.loads(run_cli("info", target, "--library", lib, "--json").stdout)
    tags = {k: v for k, v in info.items() if k.startswith("tag_")}
    assert len(tags) == (92 if analyzer == "fused" else 50) and all(0.0 <= v <= 1.0 for v in tags.values())
    res = run_cli("tracks", "--library", lib, "--where", "tag_rock >= 0 AND tag_jazz >= 0", "--json")
    assert res.returncode == 0 and len(json.loads(res.stdout)) == 12
    payload = json.loads(run_cli("similar", target, "--library", lib, "-k", "2", "--json").stdout)
    assert payload["results"][0]["title"].startswith("percussive")
