"""The evaluation harness end to end on its tiny configuration (CI proof; not the benchmark)."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

from tonearm.eval.render import have_renderer


@pytest.mark.skipif(not have_renderer(), reason="fluidsynth / GM soundfonts not installed")
def test_tiny_eval_writes_both_reports(tmp_path):
    out = tmp_path / "out"
    res = run_cli("eval", "--size", "tiny", "--out", str(out), "--cache", str(tmp_path / "cache"), "-j", "2")
    assert res.returncode == 0, res.stderr
    report = json.loads((out / "report.json").read_text())
    md = (out / "report.md").read_text()
    r = report["results"]
    for task in ("style", "instrument"):
        for who in ("engine", "baseline", "chance"):
            assert all(0.0 <= v <= 1.0 for v in r[task][who].values())
    assert r["versions"]["by"]["all"]["engine"]["n"] == 9
    assert 0.0 <= r["versions"]["by"]["all"]["engine"]["mrr"] <= 1.0
    assert set(r["qbe"]["by"]) >= {"clean", "noise_0db", "mp3_32k", "all"}
    assert r["qbe"]["by"]["all"]["engine"]["n"] == 8
    assert r["qbh"]["by"]["all"]["engine"]["n"] == 4
    assert "skipped" in r["grouping"]
    text = r["text"]
    assert text["mood_set"]["vocabulary"] == {"surface_forms": 173, "terms": 40}
    assert all(0.0 <= v <= 1.0 for d in text["mood_set"]["offline"].values() for v in d.values())
    sw = text["spoken_word"]
    assert set(sw["wer"]) == {"en", "es"} and sw["wer"]["en"] < 0.5
    assert sw["retrieval"]["same_language"]["engine"]["r@1"] > sw["retrieval"]["same_language"]["chance_r@1"]
    assert all(0.0 <= text["captions"][m]["r@10"] <= 1.0 for m in ("tags", "auto"))
    assert "Spoken word (18 episodes" in md and "| same_language | 18 |" in md and "auto R@1" in md
    assert r["speed"]["analysis_x_realtime_per_core"] > 0
    dups = r["duplicates"]
    assert dups["copies"] == 2 * dups["reencoded_items"] > 0
    assert dups["recall"]["all"] == 1.0 and dups["false_merges"]["pairs"] == 0
    assert dups["different_recordings"]["other_tunes_min"] > 0.15
    sound = r["hubness"]["views"]["sound"]
    assert sound["cosine"]["max"] >= 1 and "style_p@10" in sound["csls"] and "qbe_mrr" in sound["cosine"]
    sets = r["hubness"]["views"]["sound (sets)"]  # the shipped view keeps stretches: scored as sets too
    assert 0.0 <= sets["cosine"]["style_p@10"] <= 1.0 and 0.0 < sets["csls"]["versions_mrr"] <= 1.0
    assert all(0.0 <= r[task]["engine_sets"]["p@10"] <= 1.0 for task in ("style", "instrument"))
    assert "p@10, `--match sets`" in md and "sound (sets), versions MRR" in md
    radio = r["radio"]["style (rendered tunes)"]
    assert 0.0 <= radio["random"] <= 1.0 and radio["radio"] > radio["random"]
    assert "## duplicates" in md and "## hubness" in md and "## radio" in md
    assert "## versions" in md and "| re-rendered | 9 |" in md
    assert (out / "qbe_mrr.png").stat().st_size > 1000 and "![qbe MRR per bucket](qbe_mrr.png)" in md
    assert set(r["qbh"]["by"]) >= {"hummed", "sung", "all"} or set(r["qbh"]["by"]) >= {"hummed", "all"}
    # Fixed seeds: a second build of the corpus gives the same items and queries.
    manifest = (tmp_path / "cache" / "tiny-v4" / "manifest.json").read_text()
    # (and --views scores another analyzer: the report names it)
    res2 = run_cli("eval", "--size", "tiny", "--tasks", "versions", "--out", str(tmp_path / "o2"),
                   "--cache", str(tmp_path / "cache2"), "-j", "2", "--views", "sound=dsp")  # fmt: skip
    assert res2.returncode == 0, res2.stderr
    second = json.loads((tmp_path / "o2" / "report.json").read_text())
    assert second["analyzers"]["sound"] == "dsp" and second["normalization"]["sound"] == "zscore"
    assert (tmp_path / "cache2" / "tiny-v4" / "manifest.json").read_text() == manifest.replace(
        str(tmp_path / "cache"), str(tmp_path / "cache2")
    )


def test_unknown_task_and_size_are_clear_errors(tmp_path):
    res = run_cli("eval", "--tasks", "nope", "--out", str(tmp_path))
    assert res.returncode == 2 and "unknown task" in res.stderr
    res = run_cli("eval", "--size", "huge", "--out", str(tmp_path))
    assert res.returncode == 2 and "--size must be one of" in res.stderr
    # A model the user must supply is asked for before the corpus is built.
    res = run_cli("eval", "--views", "sound=panns", "--tasks", "style", "--out", str(tmp_path / "o"),
                  "--cache", str(tmp_path / "c"))  # fmt: skip
    assert res.returncode == 2 and "--model-path panns=PATH" in res.stderr
    assert not (tmp_path / "c").exists()
