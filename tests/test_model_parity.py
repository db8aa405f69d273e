"""Parity of the numpy ports with the original frameworks (references made by tests/parity/make_references.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "parity"))
from make_references import aisfx_blocks, clips, musicnn_patches

REFS = np.load(Path(__file__).parent / "parity" / "references.npz")
TOL = 1e-3


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


@pytest.mark.skipif(not _installed("musicnn"), reason="pip install --no-deps musicnn==0.1.0")
@pytest.mark.parametrize("model", ["MSD_musicnn", "MTT_musicnn"])
@pytest.mark.parametrize("clip", ["chord", "drums", "loud_mix"])
def test_musicnn_matches_tensorflow(model, clip):
    from tonearm.analyzers.musicnn import MusicnnNet, log_mel, patches

    y = clips(16000)[clip]
    batch = musicnn_patches(y)
    # our front end is the reference's: float32 transforms (tonearm.audio.spectrum) move loud input's
    # log-mel values by up to 4e-5, and the outputs below stay within TOL of TensorFlow's
    assert np.allclose(patches(log_mel(y)), batch, atol=1e-4)
    out = MusicnnNet(model).forward(batch)
    for key in ("taggram", "penultimate", "mean_pool", "max_pool"):
        ref = REFS[f"musicnn/{model}/{clip}/{key}"]
        np.testing.assert_allclose(out[key], ref, atol=TOL, rtol=TOL, err_msg=f"{model} {clip} {key}")


@pytest.mark.skipif(not _installed("musicnn"), reason="pip install --no-deps musicnn==0.1.0")
def test_loud_input_does_not_collapse():
    """The original float16 cast turned loud input into inf; in float32 loud and quiet clips differ."""
    from tonearm.analyzers.musicnn import load_net, log_mel, patches

    c = clips(16000)
    mel = log_mel(c["loud_mix"])
    assert np.all(np.isfinite(mel)) and mel.max() > np.log10(10000 * 65504 + 1)  # beyond float16's range
    a = load_net().forward(patches(mel))["taggram"]
    b = load_net().forward(patches(log_mel(c["chord"])))["taggram"]
    assert np.abs(a - b).max() > 0.01


@pytest.mark.skipif(not _installed("aisfx"), reason="pip install --no-deps aisfx==0.1.2")
@pytest.mark.parametrize("clip", ["chord", "drums", "loud_mix"])
def test_aisfx_matches_torch(clip):
    from tonearm.analyzers.aisfx import blocks, load_net, log_mel

    y = clips(44100)[clip]
    batch = aisfx_blocks(y)
    assert np.allclose(blocks(log_mel(y)), batch, atol=1e-5)
    np.testing.assert_allclose(load_net().forward(batch), REFS[f"aisfx/{clip}/embedding"], atol=TOL, rtol=TOL)


def test_missing_weights_give_a_clear_error(monkeypatch):
    import tonearm.analyzers.aisfx as A
    import tonearm.analyzers.musicnn as M
    from tonearm.errors import TonearmError

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(TonearmError, match=r"pip install --no-deps musicnn==0\.1\.0"):
        M.weights_dir()
    with pytest.raises(TonearmError, match=r"pip install --no-deps aisfx==0\.1\.2"):
        A.weights_path()
