"""Text task of ``tonearm eval``: transcription WER, spoken-word retrieval, caption search, mood set.

Baselines in the same run: BM25 over the same ASR transcripts (what a keyword search engine
would do with them) and chance for every ranking task.
"""

from __future__ import annotations

import math
import re
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tonearm.errors import TonearmError
from tonearm.eval import metrics as M
from tonearm.eval.corpus import Corpus
from tonearm.eval.moodset import MOOD_SET
from tonearm.eval.moodsongs import FEELINGS, MOOD_QUERIES, MOOD_SONGS, NEUTRAL_QUERIES, write_song_library
from tonearm.eval.speech import CROSS_LINGUAL, CROSS_LINGUAL_ES_EN, build_speech
from tonearm.library.indexer import Indexer
from tonearm.search.similar import similar
from tonearm.search.text import TextQuery, search
from tonearm.store import open_store
from tonearm.store.base import Store
from tonearm.store.identity import track_id
from tonearm.words.emotions import OfflineEmotions
from tonearm.words.vocabulary import EMOTIONS, Vocabulary, merge_report


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def bm25_rank(query: str, docs: dict[str, str], k1: float = 1.2, b: float = 0.75) -> list[str]:
    """Classic BM25 ranking of ``docs`` (id -> text) for ``query``; ties keep insertion order."""
    toks = {d: _tokens(t) for d, t in docs.items()}
    avg = sum(len(t) for t in toks.values()) / max(1, len(toks))
    df = Counter(w for t in toks.values() for w in set(t))
    n = len(toks)
    scores = {}
    for d, t in toks.items():
        tf = Counter(t)
        s = 0.0
        for w in _tokens(query):
            if w in tf:
                idf = math.log(1 + (n - df[w] + 0.5) / (df[w] + 0.5))
                s += idf * tf[w] * (k1 + 1) / (tf[w] + k1 * (1 - b + b * len(t) / avg))
        scores[d] = s
    return sorted(scores, key=lambda d: -scores[d])


def _rank_stats(ranks: list[list[str]], relevant: list[set[str]]) -> dict[str, float]:
    return {
        "r@1": M.mean(M.recall_at_k(r, rel, 1) for r, rel in zip(ranks, relevant, strict=True)),
        "mrr": M.mean(M.reciprocal_rank(r, rel) for r, rel in zip(ranks, relevant, strict=True)),
    }


def spoken_word_task(cache: Path, out: Path, workers: int) -> dict[str, Any]:
    episodes = build_speech(cache)
    lib = out / "library-words"
    shutil.rmtree(lib, ignore_errors=True)
    store = open_store(str(lib))
    report = Indexer(store, {"words": "words"}).run([str(p) for _, p in episodes], workers=workers)
    by_track = {track_id(str(p.resolve())): ep.episode_id for ep, p in episodes}
    rows = {by_track[r["id"]]: r for r in store.scan(columns=["id", "transcript", "language"]) if r["id"] in by_track}
    ids = [ep.episode_id for ep, _ in episodes]
    # Transcription quality.
    wer: dict[str, list[float]] = {}
    lang_ok = []
    for ep, _ in episodes:
        hyp = (rows.get(ep.episode_id) or {}).get("transcript") or ""
        wer.setdefault(ep.lang, []).append(M.word_error_rate(ep.script, hyp))
        lang_ok.append((rows.get(ep.episode_id) or {}).get("language") == ep.lang)
    # Spoken-word retrieval: paraphrased queries, same language and cross-lingual.
    queries = [(ep.query, ep.episode_id) for ep, _ in episodes]
    engine, auto, base, lat = [], [], [], []
    transcripts = {i: (rows.get(i) or {}).get("transcript") or "" for i in ids}
    crossed = list(CROSS_LINGUAL) + list(CROSS_LINGUAL_ES_EN)
    for text, _ in queries + crossed:
        t0 = time.perf_counter()
        res = search(store, TextQuery(text, k=len(ids)), "words")
        lat.append(time.perf_counter() - t0)
        engine.append([by_track[r["id"]] for r in res["results"] if r["id"] in by_track])
        fused = search(store, TextQuery(text, k=len(ids)), "auto")
        auto.append([by_track[r["id"]] for r in fused["results"] if r["id"] in by_track])
        base.append(bm25_rank(text, transcripts))
    rel = [{i} for _, i in queries + crossed]
    n_same, n_en_es = len(queries), len(queries) + len(CROSS_LINGUAL)
    # "Talks like this one": the other episode on the same topic should come first.
    topic = {ep.episode_id: ep.topic for ep, _ in episodes}
    like = []
    paths = {e.episode_id: p for e, p in episodes}
    for i in ids:
        try:
            res = similar(store, track_id(str(paths[i].resolve())), k=3, view="words")
        except TonearmError:  # nothing was heard in this episode: it cannot find its twin
            like.append(0.0)
            continue
        top = [by_track[r["id"]] for r in res["results"] if r["id"] in by_track]
        like.append(1.0 if top and topic[top[0]] == topic[i] else 0.0)
    return {
        "episodes": len(ids),
        "wer": {lang: M.mean(v) for lang, v in sorted(wer.items())},
        "language_id_accuracy": M.mean(float(x) for x in lang_ok),
        "retrieval": {
            "same_language": {
                "engine": _rank_stats(engine[:n_same], rel[:n_same]),
                "auto": _rank_stats(auto[:n_same], rel[:n_same]),
                "bm25_on_transcripts": _rank_stats(base[:n_same], rel[:n_same]),
                "chance_r@1": 1 / len(ids),
                "queries": n_same,
            },
            "cross_lingual_en_to_es": {
                "engine": _rank_stats(engine[n_same:n_en_es], rel[n_same:n_en_es]),
                "auto": _rank_stats(auto[n_same:n_en_es], rel[n_same:n_en_es]),
                "bm25_on_transcripts": _rank_stats(base[n_same:n_en_es], rel[n_same:n_en_es]),
                "chance_r@1": 1 / len(ids),
                "queries": len(CROSS_LINGUAL),
            },
            "cross_lingual_es_to_en": {
                "engine": _rank_stats(engine[n_en_es:], rel[n_en_es:]),
                "auto": _rank_stats(auto[n_en_es:], rel[n_en_es:]),
                "bm25_on_transcripts": _rank_stats(base[n_en_es:], rel[n_en_es:]),
                "chance_r@1": 1 / len(ids),
                "queries": len(CROSS_LINGUAL_ES_EN),
            },
        },
        "talks_like_this_p@1": {"engine": M.mean(like), "chance": 1 / (len(ids) - 1)},
        "words_query_ms": {"p50": 1000 * M.percentile(lat, 50), "p95": 1000 * M.percentile(lat, 95)},
        "words_view_x_realtime_per_core_with_asr": report.analysed_seconds / (report.analysis_cpu_seconds or math.nan),
    }


def caption_task(corpus: Corpus, store: Store, by_track: dict[str, str], k: int = 10) -> dict[str, Any]:
    """'a jig played on the flute' (relevant: that style on that instrument), and 'played on the flute'.

    Scored for ``tags`` (text -> sound tags only) and ``auto`` (tags fused with words and mood).
    """
    items = [i for i in corpus.items if i.source == "rendered"]
    combos = sorted({(i.style, i.instrument) for i in items if i.version == 0})
    instruments = sorted({i.instrument for i in items})
    out: dict[str, Any] = {"queries": len(combos), "instrument_queries": len(instruments)}
    out[f"chance_r@{k}"] = min(1.0, k / len(by_track))
    out[f"instrument_chance_p@{k}"] = M.mean(
        len([i for i in items if i.instrument == inst]) / len(by_track) for inst in instruments
    )
    for mode in ("tags", "auto"):
        recalls, inst_p, lat = [], [], []
        for style, instrument in combos:
            relevant = {i.item_id for i in items if i.style == style and i.instrument == instrument}
            t0 = time.perf_counter()
            res = search(store, TextQuery(f"a {style.replace('_', ' ')} played on the {instrument}", k=k), mode)
            lat.append(time.perf_counter() - t0)
            ranked = [by_track[r["id"]] for r in res["results"] if r["id"] in by_track]
            recalls.append(M.recall_at_k(ranked, relevant, k))
        for instrument in instruments:
            relevant = {i.item_id for i in items if i.instrument == instrument}
            res = search(store, TextQuery(f"played on the {instrument}", k=k), mode)
            ranked = [by_track[r["id"]] for r in res["results"] if r["id"] in by_track]
            inst_p.append(M.precision_at_k(ranked, relevant, k))
        out[mode] = {
            f"r@{k}": M.mean(recalls),
            f"instrument_p@{k}": M.mean(inst_p),
            "query_ms": {"p50": 1000 * M.percentile(lat, 50), "p95": 1000 * M.percentile(lat, 95)},
        }
    out["note"] = "the catalogue holds audio only (no titles): text reaches it through the sound view's tags"
    return out


def mood_task() -> dict[str, Any]:
    backend, vocab = OfflineEmotions(min_evidence=None), Vocabulary()
    by_lang: dict[str, dict[str, list[float]]] = {}
    for lang, text, expected in MOOD_SET:
        terms = backend.tag([text], vocab).terms
        d = by_lang.setdefault(lang, {"hit@1": [], "hit@3": [], "chance@1": []})
        d["hit@1"].append(float(bool(terms) and terms[0] in expected))
        d["hit@3"].append(float(any(t in expected for t in terms[:3])))
        d["chance@1"].append(len(expected) / len(EMOTIONS))
    return {
        "texts": len(MOOD_SET),
        "vocabulary": merge_report(),
        "offline": {lang: {m: M.mean(v) for m, v in d.items()} for lang, d in sorted(by_lang.items())},
    }


def mood_ranking_task(out: Path) -> dict[str, Any]:
    """Mood search over songs with lyrics and popularity: is the first song of the asked feeling?

    Scored with the shipped rule (similarity >= the calibrated cut, then the most popular first);
    chance is a random order of the library's songs.
    """
    lib = out / "library-mood"
    shutil.rmtree(lib, ignore_errors=True)
    paths = write_song_library(out / "media-mood")
    store = open_store(str(lib))
    Indexer(store, {"words": "words"}).run([str(p) for p in paths], workers=1)
    feeling = {track_id(str(p.resolve())): s.feeling for s, p in zip(MOOD_SONGS, paths, strict=True)}
    per_lang: dict[str, dict[str, list[float]]] = {}
    lat, misses = [], []
    for lang, text, want in MOOD_QUERIES:
        t0 = time.perf_counter()
        res = search(store, TextQuery(text, k=3), "mood")
        lat.append(time.perf_counter() - t0)
        top = [feeling.get(r["id"]) for r in res["results"]]
        d = per_lang.setdefault(lang, {"hit@1": [], "hit@3": []})
        d["hit@1"].append(float(bool(top) and top[0] == want))
        d["hit@3"].append(float(want in top))
        if not top or top[0] != want:
            misses.append({"text": text, "want": want, "got": top, "read_as": res["query"]["emotions"]})
    n, per = len(MOOD_SONGS), sum(s.feeling == FEELINGS[0] for s in MOOD_SONGS)
    neutral = [not search(store, TextQuery(t, k=3), "mood")["results"] for t in NEUTRAL_QUERIES]
    return {
        "songs": n, "feelings": len(FEELINGS), "queries": len(MOOD_QUERIES),
        "min_score": search(store, TextQuery(MOOD_QUERIES[0][1]), "mood")["query"]["min_score"],
        "by_language": {lang: {m: M.mean(v) for m, v in d.items()} for lang, d in sorted(per_lang.items())},
        "chance": {"hit@1": per / n, "hit@3": 1 - math.comb(n - per, 3) / math.comb(n, 3)},
        "neutral_sentences_answered_no_emotion": M.mean(float(x) for x in neutral),
        "misses": misses,
        "query_ms": {"p50": 1000 * M.percentile(lat, 50), "p95": 1000 * M.percentile(lat, 95)},
    }  # fmt: skip


def run_text_task(corpus: Corpus, store: Store, by_track: dict[str, str], cache: Path, out: Path, workers: int) -> dict:
    result: dict[str, Any] = {"mood_set": mood_task(), "mood_ranking": mood_ranking_task(out)}
    if "tag_jazz" in store.fields():
        result["captions"] = caption_task(corpus, store, by_track)
    else:
        result["captions"] = {"skipped": "the sound view has no tags (choose sound=fused or musicnn)"}
    try:
        result["spoken_word"] = spoken_word_task(cache, out, workers)
    except RuntimeError as exc:
        result["spoken_word"] = {"skipped": str(exc)}
    return result
