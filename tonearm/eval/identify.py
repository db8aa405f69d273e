"""The ``identify`` task of ``tonearm eval``: excerpt identification by landmark fingerprints.

Queries are the query-by-example excerpts (10 s of an indexed real recording under each
distortion; the corpus records where each starts) and an out-of-library set: excerpts of tunes
the corpus does not hold (same soundfonts and instruments, the hardest kind of stranger), under
the same distortions, plus silence and noise. Scored: R@1 and MRR per distortion, the offset
error of correct answers, false accepts (any answer for an out-of-library clip), latency (the
whole call, decode included, and the lookup alone). The sound view and the MFCC baseline on the
same excerpts are the ``qbe`` task's figures, shown beside these in the report.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from tonearm.analyzers.landmarks import SR
from tonearm.audio.decode import load
from tonearm.errors import TonearmError
from tonearm.eval import metrics as M
from tonearm.search.identify import identify_audio
from tonearm.store.schema import LANDMARK_VIEW


def task_identify(ev: Any) -> dict[str, Any]:
    if LANDMARK_VIEW not in (ev.store.get_meta("views") or {}):
        return {"skipped": "the library has no landmarks view"}
    rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    offset_errors: list[float] = []
    total, lookup = [], []
    for q in (q for q in ev.corpus.queries if q.task == "qbe"):
        t0 = time.perf_counter()
        y = load(q.path, SR)
        t1 = time.perf_counter()
        out = identify_audio(ev.store, y, k=5)
        t2 = time.perf_counter()
        total.append(t2 - t0)
        lookup.append(t2 - t1)
        ranked = [ev.by_track[r["id"]] for r in out["results"] if r["id"] in ev.by_track]
        rel = set(q.relevant)
        for bucket in (q.meta["distortion"], "all"):
            rows[bucket]["r@1"].append(M.hit_at_k(ranked, rel, 1))
            rows[bucket]["mrr"].append(M.reciprocal_rank(ranked, rel))
            rows[bucket]["answered"].append(float(bool(ranked)))
        if ranked and ranked[0] in rel and "offset" in q.meta:
            offset_errors.append(abs(out["results"][0]["offset"] - float(q.meta["offset"])))
    table = {b: {m: M.mean(v) for m, v in d.items()} | {"n": len(d["r@1"])} for b, d in rows.items()}
    outside: dict[str, list[float]] = defaultdict(list)
    best_strangers = []
    for q in (q for q in ev.corpus.queries if q.task == "identify_out"):
        try:
            out = identify_audio(ev.store, load(q.path, SR), k=5)
        except TonearmError:  # too short or silent: no answer, which is right
            out = {"results": [], "query": {}}
        accepted = float(bool(out["results"]))
        outside[q.meta.get("kind", "music")].append(accepted)
        outside["all"].append(accepted)
        best_strangers.append(out["results"][0]["matched"] if out["results"] else 0)
    result: dict[str, Any] = {
        "by": table,
        "offset_error_s": {"median": M.percentile(offset_errors, 50), "p95": M.percentile(offset_errors, 95),
                           "within_0.05_s": M.mean(float(e <= 0.05) for e in offset_errors),
                           "within_0.5_s": M.mean(float(e <= 0.5) for e in offset_errors)} if offset_errors else {},
        "false_accepts": {k: {"rate": M.mean(v), "n": len(v)} for k, v in outside.items()},
        "latency_ms": {"p50": 1000 * M.percentile(total, 50), "p95": 1000 * M.percentile(total, 95),
                       "lookup_p50": 1000 * M.percentile(lookup, 50), "lookup_p95": 1000 * M.percentile(lookup, 95)},
        "postings": {"tracks": len(ev.store.postings_tracks()), "bytes": ev.store.postings_size()},
    }  # fmt: skip
    return result
