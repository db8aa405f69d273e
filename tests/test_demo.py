"""The demo library renders, tags and indexes (a small version of `make demo`)."""

from __future__ import annotations

import pytest
from conftest import run_cli

from tonearm.eval.render import have_renderer


@pytest.mark.skipif(not have_renderer(), reason="fluidsynth / GM soundfonts not installed")
def test_demo_end_to_end(tmp_path):
    res = run_cli("demo", "--dir", str(tmp_path / "demo"), "--tunes", "12", "-j", "2")
    assert res.returncode == 0, res.stderr
    out = " ".join(res.stdout.split())
    assert "rendered 12 demo tunes" in out and "12 added" in out and "loudness: 12 tunes measured" in out
    assert "Similar to" in out and "Filtered" in out and "auto search: a calm piano piece" in out
    audio = sorted((tmp_path / "demo" / "audio").rglob("*.flac"))
    assert len(audio) == 12
    lib = str(tmp_path / "demo" / "library")
    res = run_cli("tracks", "--library", lib, "--where", "style = 'bach_chorale'", "--json")
    assert res.returncode == 0 and '"genre": "Chorale"' in res.stdout
    again = run_cli("demo", "--dir", str(tmp_path / "demo"), "--tunes", "12", "-j", "2")
    again_out = " ".join(again.stdout.split())
    assert "12 unchanged" in again_out and "0 tunes measured, 12 measured before" in again_out  # all cached
