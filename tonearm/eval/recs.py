"""Recommendation tasks of ``tonearm eval``: duplicate detection, hubness, radio coherence.

* **duplicates** — every catalogue item plus re-encodes of a subset (MP3 192k/64k, Vorbis q0,
  AAC 96k, Opus 32k; cached with the corpus) go into a fingerprint-only library; the duplicate
  pass must put each copy with its original (recall) and never join two different items
  (false merges; the corpus holds other renderings of the same tune, the hardest negatives).
  The bit-error margins of both sides are reported too.
* **hubness** — k-occurrence (how often each track is among the others' 10 nearest
  neighbours): its skewness and largest value, before and after the CSLS correction the
  engine applies, with the retrieval figures both ways.
* **radio** — the share of a radio's tracks in the seed's style (rendered tunes) or from the
  seed's game (real recordings), against random playlists from the same pool.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from tonearm.eval import metrics as M
from tonearm.eval.corpus import Corpus, Item
from tonearm.library.duplicates import EDGES_META, compare
from tonearm.library.indexer import Indexer
from tonearm.store import open_store
from tonearm.store.base import vector_column
from tonearm.store.identity import track_id

CODECS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("mp3-192k", "mp3", ("-c:a", "libmp3lame", "-b:a", "192k")),
    ("mp3-64k", "mp3", ("-c:a", "libmp3lame", "-b:a", "64k")),
    ("vorbis-q0", "ogg", ("-c:a", "libvorbis", "-q:a", "0")),
    ("aac-96k", "m4a", ("-c:a", "aac", "-b:a", "96k")),
    ("opus-32k", "opus", ("-c:a", "libopus", "-b:a", "32k")),
)
COPIES_PER_ITEM = 2
K = 10


def _encode(item: Item, codec: tuple[str, str, tuple[str, ...]], out: Path) -> Path:
    """A re-encode of ``item`` (decoded by tonearm, so any format the corpus has works)."""
    from tonearm.audio.decode import load, probe

    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    info = probe(item.path)
    sr = int(info.sample_rate or 44100)
    wav = out.with_suffix(".src.wav")
    sf.write(str(wav), load(item.path, sr), sr)
    tmp = out.with_name(out.stem + ".part" + out.suffix)
    try:
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), *codec[2], str(tmp)], check=True)
        os.replace(tmp, out)
    finally:
        wav.unlink(missing_ok=True)
    return out


def task_duplicates(corpus: Corpus, cache: Path, out: Path, workers: int) -> dict[str, Any]:
    if not shutil.which("ffmpeg"):
        return {"skipped": "ffmpeg is needed to make the re-encodes"}
    rendered = [i for i in corpus.items if i.source == "rendered"]
    real = [i for i in corpus.items if i.source == "real"]
    chosen = real + rendered[::4]
    jobs = []
    for n, item in enumerate(chosen):
        for c in range(COPIES_PER_ITEM):
            codec = CODECS[(n + c) % len(CODECS)]
            jobs.append((item, codec, cache / "reencodes" / codec[0] / f"{item.item_id}.{codec[1]}"))
    with ThreadPoolExecutor(max(1, workers)) as pool:
        copies = list(pool.map(lambda j: (j[0], j[1][0], _encode(*j)), jobs))
    lib = out / "library-duplicates"
    shutil.rmtree(lib, ignore_errors=True)
    store = open_store(str(lib))
    paths = [i.path for i in corpus.items] + [str(p) for _, _, p in copies]
    report = Indexer(store, {"fingerprint": "chromaprint"}).run(paths, workers=workers)
    recording = {track_id(os.path.realpath(i.path)): i.item_id for i in corpus.items}
    recording.update({track_id(os.path.realpath(p)): item.item_id for item, _, p in copies})
    group = {r["id"]: r.get("dup_group") or r["id"] for r in store.scan(columns=["id", "dup_group"])}
    original = {i.item_id: track_id(os.path.realpath(i.path)) for i in corpus.items}
    by_codec: dict[str, list[float]] = defaultdict(list)
    for item, codec, p in copies:
        tid = track_id(os.path.realpath(p))
        found = tid in group and group.get(tid) == group.get(original[item.item_id])
        by_codec[codec].append(float(found))
        by_codec["all"].append(float(found))
    members: dict[str, set[str]] = defaultdict(set)
    for tid, g in group.items():
        if tid in recording:
            members[g].add(recording[tid])
    merged = [sorted(m) for m in members.values() if len(m) > 1]
    false_pairs = sum(len(m) * (len(m) - 1) // 2 for m in merged)
    copy_rates = [rate for _, _, rate in store.get_meta(EDGES_META) or []]
    return {
        "originals": len(corpus.items),
        "reencoded_items": len(chosen),
        "copies": len(copies),
        "recall": {c: M.mean(v) for c, v in by_codec.items()},
        "false_merges": {"groups": len(merged), "pairs": false_pairs, "examples": merged[:5]},
        "copy_bit_errors": {"max": max(copy_rates, default=float("nan")), "p50": M.percentile(copy_rates, 50)},
        "different_recordings": _negative_margin(store, corpus),
        "index_seconds": report.elapsed,
    }


def _negative_margin(store, corpus: Corpus) -> dict[str, Any]:
    """Bit error rates between different corpus items that the fingerprint view calls neighbours."""
    cols = ["id", "path", "duration", "content_hash", "ana_fingerprint", vector_column("fingerprint")]
    tune = {track_id(os.path.realpath(i.path)): i.tune_id or i.item_id for i in corpus.items}
    item_of = {track_id(os.path.realpath(i.path)): i.item_id for i in corpus.items}
    rows = {r["id"]: r for r in store.get(list(item_of), columns=cols)}
    other, same_tune = [], []
    for tid, row in rows.items():
        if row.get(vector_column("fingerprint")) is None:
            continue
        for hit in store.knn("fingerprint", np.asarray(row[vector_column("fingerprint")]), 6, exclude_ids=[tid],
                             columns=cols):  # fmt: skip
            if hit.row["id"] not in item_of:
                continue
            # Same durations are needed for a comparison at all: measure the bits regardless.
            m = compare(dict(row, duration=0.0, content_hash=None), dict(hit.row, duration=0.0, content_hash=None))
            (same_tune if tune[hit.row["id"]] == tune[tid] else other).append(m.bit_errors)
    return {
        "pairs_compared": len(other) + len(same_tune),
        "other_tunes_min": min(other, default=float("nan")),
        "other_tunes_p5": M.percentile(other, 5) if other else float("nan"),
        "same_tune_other_rendering_min": min(same_tune, default=float("nan")),
        "same_tune_other_rendering_p5": M.percentile(same_tune, 5) if same_tune else float("nan"),
    }


# ---- hubness --------------------------------------------------------------------------------
def k_occurrence(sim: np.ndarray, k: int = K) -> np.ndarray:
    """How often each row is among the others' ``k`` nearest neighbours (diagonal must be -inf)."""
    nn = np.argpartition(-sim, k, axis=1)[:, :k]
    return np.bincount(nn.ravel(), minlength=sim.shape[0])


def skewness(x: np.ndarray) -> float:
    x = np.asarray(x, np.float64)
    sd = x.std()
    return float(((x - x.mean()) ** 3).mean() / sd**3) if sd > 0 else 0.0


def _retrieval(ev: Any, ids: list[str], sim: np.ndarray, bonus: np.ndarray | None) -> dict[str, float]:
    """Style P@10, grouping P@5 and QbE MRR from a similarity matrix, as the harness scores them
    (``bonus`` None: no QbE, whose queries are scored by track vector)."""
    items = ev.items
    pos = {i: j for j, i in enumerate(ids)}
    out: dict[str, float] = {}
    style = []
    for q in [i for i in ids if items[i].source == "rendered" and items[i].version == 0]:
        ranked = [ids[j] for j in np.argsort(-sim[pos[q]], kind="stable")]
        ranked = [
            r for r in ranked if r != q and items[r].source == "rendered" and items[r].tune_id != items[q].tune_id
        ]
        style.append(M.mean(items[r].style == items[q].style for r in ranked[:10]))
    out["style_p@10"] = M.mean(style)
    real = [i for i in ids if items[i].source == "real"]
    grouping = []
    for q in real:
        ranked = [ids[j] for j in np.argsort(-sim[pos[q]], kind="stable")]
        ranked = [r for r in ranked if r != q and items[r].source == "real"]
        grouping.append(M.mean(items[r].group == items[q].group for r in ranked[:5]))
    if real:
        out["grouping_p@5"] = M.mean(grouping)
    if bonus is None:
        return out
    mat = np.array([ev.vectors[i] for i in ids], np.float32)
    by: dict[str, list[float]] = defaultdict(list)
    for q in [q for q in ev.corpus.queries if q.task == "qbe" and q.path in ev.query_vectors]:
        scores = mat @ ev.query_vectors[q.path] + bonus
        ranked = [ids[j] for j in np.argsort(-scores, kind="stable")]
        rr = M.reciprocal_rank(ranked, set(q.relevant))
        by["qbe_mrr"].append(rr)
        by[f"qbe_mrr {q.meta.get('distortion')}"].append(rr)
    out.update({name: M.mean(v) for name, v in sorted(by.items())})
    return out


def _versions_mrr(ev: Any, ids: list[str], sim: np.ndarray) -> float:
    """MRR of other renderings of the same tune (or chorale family), as the versions task scores them."""
    groups: dict[str, list[str]] = defaultdict(list)
    for i in ids:
        item = ev.items[i]
        if item.source == "rendered":
            groups[item.family or item.tune_id].append(i)
    pos = {i: j for j, i in enumerate(ids)}
    scores = []
    for members in groups.values():
        for q in members if len(members) > 1 else []:
            ranked = [ids[j] for j in np.argsort(-sim[pos[q]], kind="stable") if ids[j] != q]
            scores.append(M.reciprocal_rank(ranked, set(members) - {q}))
    return M.mean(scores)


def _csls(sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSLS of a similarity matrix (diagonal -inf in and out), with each row's neighbourhood mean."""
    from tonearm.search.hubness import neighbour_means

    r = neighbour_means(sim)
    csls = 2 * sim - r[None, :] - r[:, None]
    np.fill_diagonal(csls, -np.inf)
    return csls, r


def _occurrence(sim: np.ndarray) -> dict[str, Any]:
    n_k = k_occurrence(sim)
    return {"skewness": skewness(n_k), "max": int(n_k.max()), "antihubs": float(np.mean(n_k == 0))}


def task_hubness(ev: Any) -> dict[str, Any]:
    """k-occurrence skewness per view; the sound view's retrieval with and without CSLS."""
    out: dict[str, Any] = {"k": K, "views": {}}
    for view, vecs in ev.view_vectors.items():
        if view == "fingerprint" or len(vecs) <= K + 1:
            continue
        ids = list(vecs)
        x = np.array([vecs[i] for i in ids], np.float32)
        sim = x @ x.T
        np.fill_diagonal(sim, -np.inf)
        csls, r = _csls(sim)
        row: dict[str, Any] = {"tracks": len(ids)}
        for name, s in (("cosine", sim), ("csls", csls)):
            row[name] = _occurrence(s)
            if view == ev.view:
                row[name] |= _retrieval(ev, ids, s, np.zeros(len(ids)) if name == "cosine" else -0.5 * r)
            if view in ("melody", ev.view):  # versions by sound: other renderings of a tune
                row[name]["versions_mrr"] = _versions_mrr(ev, ids, s)
        out["views"][view] = row
        if view == ev.view and ev.has_sets():
            out["views"][f"{view} (sets)"] = _set_hubness(ev, ids)
    base = np.array([ev.base_vec[i] for i in ev.base_ids])
    bsim = base @ base.T
    np.fill_diagonal(bsim, -np.inf)
    out["mfcc_baseline_skewness"] = skewness(k_occurrence(bsim))
    return out


def _set_hubness(ev: Any, ids: list[str]) -> dict[str, Any]:
    """The sound view's tracks compared as sets (``similar --match sets``, every pair): hubness with
    and without CSLS, style, grouping and versions as the other rows score them."""
    from tonearm.search.sets import SetMatcher, chamfer_many
    from tonearm.store.base import raw_column, vector_column

    matcher = SetMatcher(ev.store, ev.view)
    cols = ["id", vector_column(ev.view), raw_column(ev.view), matcher.field]
    rows = {r["id"]: r for r in ev.store.scan(columns=cols)}
    picked = [rows[ev.track_of[i]] for i in ids]
    raws = np.array([r[cols[2]] for r in picked], np.float32)
    vecs = np.array([r[cols[1]] for r in picked], np.float32)
    stretches, counts = matcher.sets(raws, [r[matcher.field] for r in picked], vecs)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sim = np.array([chamfer_many(stretches[a : a + n], stretches, counts) for a, n in zip(starts, counts, strict=True)])
    np.fill_diagonal(sim, -np.inf)
    out: dict[str, Any] = {"tracks": len(ids)}
    for name, s in (("cosine", sim), ("csls", _csls(sim)[0])):
        out[name] = _occurrence(s) | _retrieval(ev, ids, s, None) | {"versions_mrr": _versions_mrr(ev, ids, s)}
    return out


# ---- radio ----------------------------------------------------------------------------------
def task_radio(ev: Any, length: int = 10) -> dict[str, Any]:
    """Share of a radio's tracks that match the seed's label, against random lists from the same pool."""
    from tonearm.search.radio import RadioSettings, radio

    items = ev.corpus.items
    pools = {
        "style (rendered tunes)": ([i for i in items if i.source == "rendered"], "style"),
        "game (real recordings)": ([i for i in items if i.source == "real"], "group"),
    }
    out: dict[str, Any] = {"length": length}
    rng = np.random.default_rng(0)
    for name, (pool, label) in pools.items():
        if len(pool) <= length:
            continue
        folder = os.path.commonpath([os.path.realpath(i.path) for i in pool])
        settings = RadioSettings(length=length, seed=0, where=f"path LIKE '{folder}/%'")
        shares: dict[str, list[float]] = defaultdict(list)
        for seed in [i for i in pool if i.version == 0]:
            res = radio(ev.store, [ev.track_of[seed.item_id]], settings=settings)
            got = [ev.items[ev.by_track[r["id"]]] for r in res["results"]]
            same = [getattr(g, label) == getattr(seed, label) for g in got]
            shares["radio"].append(M.mean(same))
            other_tunes = [m for m, g in zip(same, got, strict=True) if not (g.tune_id and g.tune_id == seed.tune_id)]
            shares["radio_other_tunes_only"].append(M.mean(other_tunes))
            others = [i for i in pool if i.item_id != seed.item_id]
            pick = rng.choice(len(others), size=length, replace=False)
            shares["random"].append(M.mean(getattr(others[j], label) == getattr(seed, label) for j in pick))
        out[name] = {"seeds": len(shares["radio"])} | {k: M.mean(v) for k, v in shares.items()}
    return out
