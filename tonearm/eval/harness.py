"""``tonearm eval``: index the corpus with the current analyzers and score every task.

Every figure is reported beside two references computed in the same run: a simple MFCC-mean
baseline (20 MFCC means, cosine) and chance (expected score of a random ranking), so numbers
read as ratios rather than as absolute claims about a noisy machine.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tonearm.eval import metrics as M
from tonearm.eval import recs
from tonearm.eval.corpus import Corpus, build_corpus
from tonearm.library.indexer import Indexer
from tonearm.search.similar import rank as rank_query
from tonearm.search.similar import resolve_target, similar
from tonearm.store import open_store
from tonearm.store.base import vector_column
from tonearm.store.identity import track_id

ALL_TASKS = (
    "style", "instrument", "versions", "grouping", "qbe", "identify", "qbh", "text", "hubness", "radio", "duplicates",
    "speed",
)  # fmt: skip
Ranker = Callable[[str], list[str]]
STANDALONE_TASKS = frozenset({"duplicates"})


def _mfcc_mean(path: str) -> np.ndarray:
    import librosa

    from tonearm.audio.segments import load_for_analysis

    audio = load_for_analysis(path, 22050)
    frames = [librosa.feature.mfcc(y=y, sr=22050, n_mfcc=20) for y in audio.segments if y.size > 2048]
    v = np.concatenate(frames, axis=1).mean(axis=1) if frames else np.zeros(20)
    return v / (np.linalg.norm(v) + 1e-9)


def _chance(n_items: int, n_relevant: int, k: int, rng: np.random.Generator, trials: int = 200) -> dict:
    """Expected metrics of a random ranking (simulated with a fixed seed)."""
    ids = [str(i) for i in range(n_items)]
    rel = set(ids[:n_relevant])
    rr, ap, pk, hit = [], [], [], []
    for _ in range(trials):
        ranked = list(rng.permutation(ids))
        rr.append(M.reciprocal_rank(ranked, rel))
        ap.append(M.average_precision(ranked, rel))
        pk.append(M.precision_at_k(ranked, rel, k))
        hit.append(M.hit_at_k(ranked, rel, k))
    return {"mrr": M.mean(rr), "map": M.mean(ap), f"p@{k}": M.mean(pk), f"hit@{k}": M.mean(hit)}


class Evaluation:
    def __init__(
        self,
        corpus: Corpus,
        out: Path,
        workers: int,
        view: str = "sound",
        views: Mapping[str, str] | None = None,
        adapt: bool = True,
    ) -> None:
        self.corpus, self.out, self.workers, self.view, self.adapt = corpus, out, workers, view, adapt
        self.views = dict(views) if views else None  # None: the shipped defaults
        self.items = {i.item_id: i for i in corpus.items}
        self.rng = np.random.default_rng(0)
        self.query_vectors: dict[str, np.ndarray] = {}

    # ---- engine -------------------------------------------------------------------------
    def index(self) -> dict:
        lib = self.out / "library"
        shutil.rmtree(lib, ignore_errors=True)
        self.store = open_store(str(lib))
        paths = [i.path for i in self.corpus.items]
        report = Indexer(self.store, self.views, adapt=self.adapt).run(paths, workers=self.workers)
        self.by_track = {track_id(os.path.realpath(i.path)): i.item_id for i in self.corpus.items}
        self.track_of = {v: k for k, v in self.by_track.items()}
        self.view_vectors: dict[str, dict[str, np.ndarray]] = {}
        for view in self.store.views():
            self.view_vectors[view] = {
                self.by_track[r["id"]]: np.asarray(r[vector_column(view)])
                for r in self.store.scan(columns=["id", vector_column(view)])
                if r[vector_column(view)] is not None and r["id"] in self.by_track
            }
        self.vectors = self.view_vectors[self.view]
        return report.to_json()

    def engine_rank(self, item_id: str, view: str | None = None) -> list[str]:
        view = view or self.view
        vec = self.vectors[item_id] if view == self.view else self.view_vectors[view].get(item_id)
        if vec is None:  # nothing to compare in that view (e.g. no melody found): rank last
            return []
        hits = self.store.knn(view, vec, k=len(self.items), exclude_ids=[self.track_of[item_id]], columns=["id"])
        return [self.by_track[h.row["id"]] for h in hits if h.row["id"] in self.by_track]

    def set_rank(self, item_id: str) -> list[str]:
        """The whole library ranked by the tracks' stretches (``similar --match sets``, every candidate)."""
        if not hasattr(self, "_sets"):
            from tonearm.search.sets import SetMatcher

            self._sets = SetMatcher(self.store, self.view)
        query = resolve_target(self.store, self.track_of[item_id], self.view)
        res = rank_query(self.store, query, k=len(self.items), sets=self._sets)
        return [self.by_track[r["id"]] for r in res["results"] if r["id"] in self.by_track]

    def has_sets(self) -> bool:
        """Whether the evaluated sound view keeps stretches (then its set matching is scored too)."""
        from tonearm.analyzers import get_analyzer

        name = (self.views or {}).get(self.view) or (self.store.get_meta("views") or {}).get(self.view)
        return bool(name) and get_analyzer(name).segments_field is not None

    def rankers(self) -> list[tuple[str, Any]]:
        """The rankings the sound tasks score: the engine's, its set matching (if kept), the baseline."""
        out: list[tuple[str, Any]] = [("engine", self.engine_rank)]
        if self.has_sets():
            out.append(("engine_sets", self.set_rank))
        return [*out, ("baseline", self.baseline_rank)]

    def melody_rank(self, item_id: str) -> list[str]:
        return self.engine_rank(item_id, "melody")

    def hum_query(self, path: str) -> tuple[list[str], float]:
        from tonearm.errors import TonearmError
        from tonearm.search.hum import hum_search

        t0 = time.perf_counter()
        try:
            res = hum_search(self.store, path, k=len(self.items))
        except TonearmError:
            return [], time.perf_counter() - t0
        return [self.by_track[r["id"]] for r in res["results"] if r["id"] in self.by_track], time.perf_counter() - t0

    def engine_query(self, path: str) -> tuple[list[str], float]:
        t0 = time.perf_counter()
        query = resolve_target(self.store, path, self.view, identify=False)
        self.query_vectors[path] = query.vector  # reused by the hubness task
        res = rank_query(self.store, query, k=len(self.items))
        dt = time.perf_counter() - t0
        return [self.by_track[r["id"]] for r in res["results"] if r["id"] in self.by_track], dt

    # ---- baseline -----------------------------------------------------------------------
    def prepare_baseline(self) -> None:
        self.base_vec = {i.item_id: _mfcc_mean(i.path) for i in self.corpus.items}
        self.base_ids = list(self.base_vec)
        self.base_mat = np.array([self.base_vec[i] for i in self.base_ids])

    def _base_rank_vec(self, v: np.ndarray, exclude: str | None = None) -> list[str]:
        order = np.argsort(-(self.base_mat @ v), kind="stable")
        return [self.base_ids[j] for j in order if self.base_ids[j] != exclude]

    def baseline_rank(self, item_id: str) -> list[str]:
        return self._base_rank_vec(self.base_vec[item_id], exclude=item_id)

    def baseline_query(self, path: str) -> list[str]:
        return self._base_rank_vec(_mfcc_mean(path))

    # ---- tasks --------------------------------------------------------------------------
    def _label_task(self, label: str, k: int = 10) -> dict:
        queries = [i for i in self.corpus.items if i.source == "rendered" and i.version == 0]
        out: dict[str, Any] = {"queries": len(queries), "k": k}
        for name, rank in self.rankers():
            scores = []
            for q in queries:
                ranked = [
                    r
                    for r in rank(q.item_id)
                    if self.items[r].tune_id != q.tune_id and self.items[r].source == "rendered"
                ]
                rel = {
                    i.item_id
                    for i in self.corpus.items
                    if i.source == "rendered" and getattr(i, label) == getattr(q, label) and i.tune_id != q.tune_id
                }
                scores.append(M.precision_at_k(ranked, rel, k))
            out[name] = {f"p@{k}": M.mean(scores)}
        pool = [i for i in self.corpus.items if i.source == "rendered"]
        frac = M.mean(
            sum(getattr(i, label) == getattr(q, label) and i.tune_id != q.tune_id for i in pool)
            / max(1, sum(i.tune_id != q.tune_id for i in pool))
            for q in queries
        )
        out["chance"] = {f"p@{k}": frac}
        return out

    def task_versions(self) -> dict:
        """Other renderings of a tune, and other harmonisations of a chorale melody."""
        groups: dict[str, list[str]] = defaultdict(list)
        for i in self.corpus.items:
            if i.source == "rendered":
                groups[i.family or i.tune_id].append(i.item_id)
        queries = [i for ids in groups.values() if len(ids) > 1 for i in ids]
        subset = {q: ("chorale_families" if self.items[q].family else "re-rendered") for q in queries}
        out: dict[str, Any] = {"queries": len(queries), "by": {}}
        rankers: list[tuple[str, Ranker]] = [("engine", self.engine_rank), ("baseline", self.baseline_rank)]
        if "melody" in self.view_vectors:
            rankers.insert(1, ("melody", self.melody_rank))
        for name, rank in rankers:
            scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
            for q in queries:
                item = self.items[q]
                rel = set(groups[item.family or item.tune_id]) - {q}
                ranked = rank(q)
                for b in (subset[q], "all"):
                    scores[b]["mrr"].append(M.reciprocal_rank(ranked, rel))
                    scores[b]["map"].append(M.average_precision(ranked, rel))
            for b, d in scores.items():
                out["by"].setdefault(b, {})[name] = {m: M.mean(v) for m, v in d.items()} | {"n": len(d["mrr"])}
        if queries:
            out["chance"] = _chance(len(self.items) - 1, 2, 10, self.rng)
        return out

    def task_grouping(self, k: int = 5) -> dict:
        real = [i for i in self.corpus.items if i.source == "real"]
        if not real:
            return {"skipped": "no real recordings in this corpus size"}
        out: dict[str, Any] = {"queries": len(real), "k": k, "groups": sorted({i.group for i in real})}
        for name, rank in self.rankers():
            scores = []
            for q in real:
                ranked = [r for r in rank(q.item_id) if self.items[r].source == "real"]
                rel = {i.item_id for i in real if i.group == q.group and i.item_id != q.item_id}
                scores.append(M.precision_at_k(ranked, rel, k))
            out[name] = {f"p@{k}": M.mean(scores)}
        out["chance"] = {f"p@{k}": M.mean((sum(i.group == q.group for i in real) - 1) / (len(real) - 1) for q in real)}
        return out

    def _query_task(
        self,
        task: str,
        buckets: Callable[[dict], list[str]],
        engine: Callable[[str], tuple[list[str], float]] | None = None,
    ) -> dict:
        queries = [q for q in self.corpus.queries if q.task == task]
        if not queries:
            return {"skipped": "no queries"}
        rows: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
        latencies = []
        for q in queries:
            rel = set(q.relevant)
            eng, dt = (engine or self.engine_query)(q.path)
            latencies.append(dt)
            runs = [("engine", eng), ("baseline", self.baseline_query(q.path))]
            if engine is not None:  # the dedicated mode replaces the sound view: show both
                runs.insert(1, ("sound_view", self.engine_query(q.path)[0]))
            for name, ranked in runs:
                for b in (*buckets(q.meta), "all"):
                    rows[b][name]["r@1"].append(M.hit_at_k(ranked, rel, 1))
                    rows[b][name]["mrr"].append(M.reciprocal_rank(ranked, rel))
                    rows[b][name]["top10"].append(M.hit_at_k(ranked, rel, 10))
                if task == "qbh":  # by catalogue type: only solo, or only accompanied, renderings count
                    for label, acc in (("catalogue: solo melody", False), ("catalogue: with accompaniment", True)):
                        sub = {r for r in rel if self.items[r].accompanied == acc}
                        if sub:  # the tune's other renderings are taken out, not counted as misses
                            only = [r for r in ranked if r in sub or r not in rel]
                            rows[label][name]["r@1"].append(M.hit_at_k(only, sub, 1))
                            rows[label][name]["mrr"].append(M.reciprocal_rank(only, sub))
                            rows[label][name]["top10"].append(M.hit_at_k(only, sub, 10))
        table = {
            b: {name: {m: M.mean(v) for m, v in d.items()} | {"n": len(d["mrr"])} for name, d in by.items()}
            for b, by in rows.items()
        }
        n_rel = M.mean(len(q.relevant) for q in queries)
        return {
            "by": table,
            "chance": _chance(len(self.items), max(1, round(n_rel)), 10, self.rng),
            "latency_ms": {"p50": 1000 * M.percentile(latencies, 50), "p95": 1000 * M.percentile(latencies, 95)},
        }

    def task_speed(self, index_report: dict) -> dict:
        ids = list(self.vectors)[:50]
        lat = []
        for i in ids:
            t0 = time.perf_counter()
            similar(self.store, self.track_of[i], k=10, view=self.view)
            lat.append(time.perf_counter() - t0)
        cpu = index_report["analysis_cpu_seconds"] or float("nan")
        return {
            "analysis_x_realtime_per_core": index_report["analysed_seconds"] / cpu,
            "index_wall_seconds": index_report["elapsed"],
            "similar_by_id_ms": {"p50": 1000 * M.percentile(lat, 50), "p95": 1000 * M.percentile(lat, 95)},
        }


def _qbh_buckets(meta: dict) -> list[str]:
    n = meta.get("notes", 0)
    return ["10-12 notes" if n <= 12 else "13-16 notes", meta.get("voice", "hummed")]


def _normalization(store: Any) -> dict[str, str]:
    """Per standardised view, how its vectors were derived (``zscore`` or a projection's recipe)."""
    out = {}
    for view in store.views():
        saved = store.get_meta(f"normalizer:{view}")
        if saved:
            out[view] = saved.get("method", "zscore")
    return out


def run_eval(
    size: str,
    tasks: list[str],
    out: Path,
    cache: Path,
    workers: int,
    log=print,
    views: Mapping[str, str] | None = None,
    adapt: bool = True,
) -> dict:
    """Build/load the corpus, index it, run the tasks; write report.json and report.md into ``out``.

    ``views`` (view -> analyzer) scores other analyzers than the shipped ones, e.g. a model the
    user supplies: ``{"sound": "panns"}`` with its ``--model-path`` set in the environment.
    ``adapt``: whether the library fits its discriminant projections (``index --adapt``).
    """
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    corpus = build_corpus(size, cache)
    log(f"corpus: {len(corpus.items)} items, {len(corpus.queries)} queries ({time.perf_counter() - t0:.0f} s)")
    ev = Evaluation(corpus, out, workers, views=views, adapt=adapt)
    results: dict[str, Any] = {}
    index_report: dict[str, Any] | None = None
    if not set(tasks) <= STANDALONE_TASKS:  # those build their own library: no main index for them alone
        index_report = ev.index()
        log(f"indexed in {index_report['elapsed']:.0f} s; failed: {len(index_report['failed'])}")
        ev.prepare_baseline()
    for task in tasks:
        t = time.perf_counter()
        if task in ("style", "instrument"):
            results[task] = ev._label_task(task)
        elif task == "versions":
            results[task] = ev.task_versions()
        elif task == "grouping":
            results[task] = ev.task_grouping()
        elif task == "qbe":
            results[task] = ev._query_task("qbe", lambda m: [m["distortion"]])
        elif task == "identify":
            from tonearm.eval.identify import task_identify

            results[task] = task_identify(ev)
        elif task == "qbh":
            if "melody" in ev.view_vectors:
                results[task] = ev._query_task("qbh", _qbh_buckets, engine=ev.hum_query)
                results[task]["note"] = "engine = `tonearm hum` (melody view + alignment rerank)"
            else:
                results[task] = ev._query_task("qbh", _qbh_buckets)
                results[task]["note"] = "no melody view: the sound view is scored as it stands"
        elif task == "text":
            from tonearm.eval.text import run_text_task

            results[task] = run_text_task(corpus, ev.store, ev.by_track, cache, out, workers)
        elif task == "hubness":
            results[task] = recs.task_hubness(ev)
        elif task == "radio":
            results[task] = recs.task_radio(ev)
        elif task == "duplicates":
            results[task] = recs.task_duplicates(corpus, cache, out, workers)
        elif task == "speed":
            results[task] = ev.task_speed(index_report)
        log(f"task {task}: {time.perf_counter() - t:.0f} s")
    report = {
        "size": size,
        "analyzers": ev.store.get_meta("views") if index_report else None,
        "normalization": _normalization(ev.store) if index_report else None,
        "corpus": {
            "items": len(corpus.items),
            "queries": len(corpus.queries),
            "notes": corpus.notes,
            "real_licences": sorted({i.licence for i in corpus.items if i.source == "real" and i.licence}),
        },
        "index": {k: v for k, v in index_report.items() if k != "failed"} | {"failed": index_report["failed"]}
        if index_report
        else None,
        "results": results,
        "elapsed_seconds": time.perf_counter() - t0,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, default=float))
    from tonearm.eval.report import write_markdown

    write_markdown(report, out / "report.md")
    return report
