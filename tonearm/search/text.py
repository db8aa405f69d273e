"""``search``: find tracks from a sentence, by what they say, how they feel, or how they sound.

Modes (the CLI and the HTTP API share these functions):

* ``words``: semantic search over lyrics, transcripts and titles. Candidates come from the
  track-level ``words`` vectors, then each is re-scored by its best passage, which is
  returned with its timestamp ("at 12:31 they talk about ...").
* ``mood``: the sentence's emotions (same backend as indexing) become an emotion profile,
  compared with each track's; tracks under ``min_score`` are dropped and the rest ordered
  by ``popularity`` when the library has it (the most-loved matching songs first, as users
  of emotion-based song finders expect), else by score.
* ``tags``: the sentence's phrases are matched to the sound view's tag vocabulary (musicnn's
  MSD and MagnaTagATune tags, e.g. "calm piano" -> chill, piano), with negations ("not sad", "sin voz")
  subtracting; so instrumental tracks are findable by text.
* ``audio``: for libraries whose sound view is CLAP (weights the user supplies), the sentence
  is embedded by CLAP's text tower and matched against the sound view directly.
* ``auto``: the modes the library supports fused by reciprocal-rank fusion; each result says
  which modes found it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from tonearm.analyzers.musicnn import ALL_TAG_LABELS, tag_field
from tonearm.analyzers.words import META_SOURCE, decode_chunks
from tonearm.errors import TonearmError
from tonearm.search import dedupe
from tonearm.search.results import RESULT_FIELDS
from tonearm.store.base import Store
from tonearm.store.filters import And, Compare, Filter
from tonearm.store.schema import LANGUAGES_META, MOOD_VIEW, VOCAB_META
from tonearm.words import catalogue, embed, languages, moodspace
from tonearm.words.emotions import EmotionBackend, OfflineEmotions
from tonearm.words.vocabulary import Vocabulary

MODES = ("auto", "words", "mood", "tags", "audio")
PREFILTER = 200  # track-level candidates re-scored by their passages
# Default cut for mood, in the mood space of tonearm.words.moodspace (1 = same feeling, ~0 = unrelated):
# calibrated by bench/calibrate_mood.py on the mood sanity set (66 texts, each a query, the others songs,
# random popularity): the cut whose most popular song above it most often shares the query's feeling
# (0.66 on the first 30 texts; the curve is flat from 0.64 to 0.82, hit@1 0.55-0.58).
MOOD_MIN_SCORE = 0.72
# Evidence a mood query needs (best term's zero-shot score over its language's neutral baseline, plus the
# cue of a named feeling); calibrated by the same script: 0.90 of emotional texts pass, 0.15 of everyday
# sentences. Below it the answer is "no emotional content" rather than the library's most popular songs.
MOOD_QUERY_EVIDENCE = 0.045
MOOD_POOL = 500
RRF_K = 60
# auto: a words hit is fused when it scores this much above the 90th percentile of the query's
# scores against everyday sentences (tonearm.words.languages.everyday_scores). On the eval's
# spoken-word set right matches stand 0.0-0.3 above that percentile (28 of 30 by more than 0.04),
# title noise for "played on the flute" 0.006 above it.
WORDS_STAND_OUT = 0.04
# auto: hits whose best passage is the track's tags ("Goldringlein. essenFolksong. German folk") are
# fused only when the best of them stands this much above the 90th percentile of the query's scores
# against invented tag lines (tonearm.words.catalogue): E5 scores any query well against text of that
# shape. On the demo library the best tag line of 21 queries the tags do not answer ("a calm piano
# piece" 0.006) stood at most 0.08 above that percentile ("a slow trumpet solo"; "fröhliche Tanzmusik"
# 0.10, on a title with "Tanzen"); of 22 they do ("irish jigs", "bach chorale", "Goldringlein"), 21 at
# least 0.093 and "a reel played on the accordion" 0.074 (answered then by its sound tags alone).
TAGS_STAND_OUT = 0.09
# auto: the offline emotion evidence a query needs before mood is fused (listeners' mood phrases
# score 0.066-0.12 on their best term).
AUTO_MOOD_EVIDENCE = 0.05
# auto: RRF weight per mode. Short neutral questions still read as weakly emotional (up to 0.08
# evidence), so mood counts half: it reorders and fills in, it does not outvote a matching passage.
MODE_WEIGHTS = {"words": 1.0, "tags": 1.0, "mood": 0.5, "audio": 1.0}
MAX_QUERY_CHARS = 2000

# How each musicnn tag reads as a description (E5 matches descriptions better than bare labels).
_TAG_TEXT = {
    "00s": "music from the 2000s", "80s": "1980s music", "90s": "1990s music", "70s": "1970s music",
    "60s": "1960s music", "oldies": "old songs, oldies", "Hip-Hop": "hip-hop, rap", "rnb": "r&b, rhythm and blues",
    "House": "house music, club", "chill": "chill, relaxed", "chillout": "chillout, laid back",
    "Mellow": "mellow, soft and gentle", "easy listening": "easy listening, light background music",
    "beautiful": "beautiful", "catchy": "catchy", "sexy": "sexy, sensual", "party": "party music",
    "instrumental": "instrumental music without singing", "female vocalists": "female singer, woman singing",
    "female vocalist": "female singer, woman singing", "male vocalists": "male singer, man singing",
    "acoustic": "acoustic instruments",
    "experimental": "experimental, avant-garde", "ambient": "ambient, atmospheric",
    "sad": "sad, melancholic, música triste", "happy": "happy, cheerful, música alegre",
    "rock": "rock, música rock", "dance": "dance music, música para bailar",
}  # fmt: skip
# Phrases whose meaning an embedding gets backwards (a negation that names a tag of its own).
_PHRASE_RULES = (
    (re.compile(r"^(no|without|sin|not)\s+(vocals?|voices?|voz|singing|singers?|lyrics|letra|cantante)$", re.I),
     "instrumental", 1.0),
)  # fmt: skip
_NEGATION = re.compile(r"^(not|no|non|without|never|nothing|sin|nada|nunca|ni)\b\s*", re.I)
_SPLIT = re.compile(r"[,;/]|\band\b|\bbut\b|\bwith\b|\by\b|\bpero\b|\bcon\b|\be\b", re.I)
_STOPWORDS = frozenset((
    "the", "and", "with", "for", "from", "that", "this", "some", "very", "bit", "played", "playing", "plays",
    "song", "songs", "music", "track", "tracks", "una", "uno", "unos", "unas", "los", "las", "del", "con", "para",
    "por", "que", "muy", "canción", "canciones", "música", "piece", "pieces", "tune", "tunes", "something",
))  # fmt: skip
_TAG_MIN_SIM = 0.87  # below this a phrase names no tag ("blah qwerty", "rainy sunday")
_WORD_MIN_SIM = 0.89  # a single word needs stronger evidence than a phrase ("reel", "blah" match noise)
_TAG_MARGIN = 0.005
# How far the best tag must stand above the median of all 92 tags. Measured over 33 tag phrases and
# 22 talk topics: phrases naming a tag 0.050-0.167 ("happy dance music" lowest), topics 0.018-0.049;
# single content words naming a tag mostly above 0.065, topic words up to 0.060 ("home" -> House).
_TAG_STAND_OUT = 0.05
_WORD_STAND_OUT = 0.065


@dataclass(frozen=True)
class TextQuery:
    text: str
    k: int = 10
    where: str | None = None
    min_score: float | None = None


def _check(q: TextQuery) -> str:
    text = " ".join(q.text.split())
    if not text:
        raise TonearmError("the search text is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise TonearmError(f"the search text is too long ({len(text)} characters, at most {MAX_QUERY_CHARS})")
    if q.k < 1:
        raise TonearmError("-k must be at least 1")
    return text


def _item(row: dict[str, Any], score: float) -> dict[str, Any]:
    out = {key: row.get(key) for key in RESULT_FIELDS}
    out["score"] = round(float(score), 6)
    return out


def _ranked(items: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """The top ``k`` with one file per recording, ranked from 1."""
    kept = dedupe.collapse(items, k)
    for i, item in enumerate(kept, 1):
        item["rank"] = i
    return kept


# ---- words -------------------------------------------------------------------------------
def library_languages(store: Store) -> list[str]:
    """Languages the library's transcripts are in (recorded by index runs; read from the rows otherwise)."""
    langs = store.get_meta(LANGUAGES_META)
    if langs is None:
        langs = sorted({r["language"] for r in store.scan(columns=["language"]) if r.get("language")})
    return [str(x) for x in langs]


def search_words(store: Store, q: TextQuery) -> dict[str, Any]:
    """Semantic search over passages; each result carries its best passage and timestamp.

    Scores compare topics across languages: each side's language mean is removed from the E5
    vectors (:mod:`tonearm.words.languages`) before the cosine, and the question is also asked
    "in" every other language the library's talks are in (the query vector moved by the
    difference of the language means), so a talk in another language is a candidate even
    when every talk in the question's language outranks it on the raw vectors.
    """
    text = _check(q)
    if "words" not in store.views():
        raise TonearmError("the library has no words view; index it with the default views (or --views words=words)")
    vec = embed.query(text)
    qlang = languages.detect_text(text, vec)
    where = store.compile_where(q.where)
    cols = [*RESULT_FIELDS, "words_source", "language", "ana_words_chunks"]
    pool = max(PREFILTER, dedupe.overfetch(q.k))
    hits = {h.row["id"]: h for h in store.knn("words", vec, pool, where=where, columns=cols)}
    if qlang is not None and "language" in store.fields():
        for lang in library_languages(store):
            if lang == qlang or lang not in languages.SENTENCES:
                continue
            in_lang = Compare("language", "=", lang)
            shifted = languages.shifted_query(vec, qlang, lang)
            for h in store.knn("words", shifted, pool, where=And((where, in_lang)) if where else in_lang,
                               columns=cols):  # fmt: skip
                hits.setdefault(h.row["id"], h)
    qc = languages.centred(vec, qlang, "q")[0]
    items = []
    for hit in hits.values():
        chunks, vectors = decode_chunks(hit.row.get("ana_words_chunks"))
        if not chunks:
            continue
        lang = hit.row.get("language") or languages.nearest(_unit(vectors.mean(axis=0)), "p")
        sims = languages.centred(vectors, lang, "p") @ qc
        best = int(np.argmax(sims))
        whole = float(languages.centred(vectors.mean(axis=0), lang, "p")[0] @ qc)
        # Mostly the best passage, a little of the whole track (a talk about the topic throughout wins ties).
        score = 0.8 * float(sims[best]) + 0.2 * whole
        if q.min_score is not None and score < q.min_score:
            continue
        item = _item(hit.row, score)
        c = chunks[best]
        item.update(
            passage=c["t"], start=c.get("s"), end=c.get("e"), source=c.get("k"), language=hit.row.get("language")
        )
        items.append(item)
    items.sort(key=lambda r: -r["score"])
    info = {"text": text, "mode": "words", "k": q.k, "where": q.where, "language": qlang}
    return {"query": info, "results": _ranked(items, q.k)}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) + 1e-9)


# ---- mood --------------------------------------------------------------------------------
def search_mood(store: Store, q: TextQuery, backend: EmotionBackend | None = None) -> dict[str, Any]:
    """Tracks whose emotions match the sentence's; above ``min_score``, the most popular first.

    A sentence that expresses no feeling gets an empty answer that says so: listing the most
    popular songs for "the train leaves at nine" would look like an answer and is not one.
    """
    text = _check(q)
    views = store.views()
    if MOOD_VIEW not in views:
        raise TonearmError("no track has emotions yet: index tracks with lyrics or speech first")
    if views[MOOD_VIEW] != moodspace.DIM:
        raise TonearmError(
            "the library's mood vectors come from an older tonearm: run `tonearm index` once to move them "
            "(nothing is re-analysed)"
        )
    backend = backend or OfflineEmotions(min_evidence=MOOD_QUERY_EVIDENCE)
    emotions = backend.tag([text], Vocabulary(list(store.get_meta(VOCAB_META) or [])))
    min_score = MOOD_MIN_SCORE if q.min_score is None else q.min_score
    info: dict[str, Any] = {
        "text": text, "mode": "mood", "k": q.k, "where": q.where, "emotions": emotions.weights,
        "valence": emotions.valence, "arousal": emotions.arousal, "min_score": min_score,
    }  # fmt: skip
    if not emotions.weights:
        info["explain"] = "no emotional content: the text names no feeling and reads as neutral"
        return {"query": info, "results": []}
    hits = store.knn(
        MOOD_VIEW, moodspace.profile_vector(emotions.weights), MOOD_POOL, where=store.compile_where(q.where),
        columns=[*RESULT_FIELDS, "emotions", "popularity"],
    )  # fmt: skip
    kept = [h for h in hits if h.score >= min_score]
    by_popularity = any(h.row.get("popularity") is not None for h in kept)
    if by_popularity:
        kept.sort(key=lambda h: (-(h.row.get("popularity") or float("-inf")), -h.score))
    items = []
    for h in kept:
        item = _item(h.row, h.score)
        item.update(emotions=h.row.get("emotions"), popularity=h.row.get("popularity"))
        items.append(item)
    order = "popularity, then score" if by_popularity else "score (the library has no popularity values)"
    reads = ", ".join(f"{t} {w:.2f}" for t, w in emotions.weights.items())
    info["explain"] = (
        f"the text reads as {reads}; {len(kept)} tracks share its main feeling (mood similarity >= {min_score:g}, "
        f"1 = same feeling, 0 = unrelated); ordered by {order}"
    )
    return {"query": info, "results": _ranked(items, q.k)}


# ---- tags --------------------------------------------------------------------------------
@cache
def _tag_vectors() -> np.ndarray:
    return embed.constant([_TAG_TEXT.get(label, label) + " music" for label in ALL_TAG_LABELS], "query")


def parse_tag_query(text: str) -> list[tuple[str, float, float]]:
    """(tag label, weight, similarity) pairs for a sentence; negated phrases get negative weights."""
    out: dict[str, tuple[float, float]] = {}
    for phrase in _SPLIT.split(text):
        phrase = phrase.strip(" .!?¿¡").strip()
        if not phrase:
            continue
        rule = next(((label, w) for rx, label, w in _PHRASE_RULES if rx.match(phrase)), None)
        if rule:
            out[rule[0]] = (rule[1], 1.0)
            continue
        sign = 1.0
        if _NEGATION.match(phrase):
            sign, phrase = -1.0, _NEGATION.sub("", phrase).strip()
            if not phrase:
                continue
        # The phrase as a whole ("easy listening"), and its content words ("calm", "piano").
        words = [w for w in re.findall(r"\w+", phrase.lower()) if len(w) >= 3 and w not in _STOPWORDS]
        units = [phrase] + (words if len(words) > 1 else [])
        for n, sims in enumerate(embed.queries([u + " music" for u in units]) @ _tag_vectors().T):
            best = float(sims.max())
            if best < (_TAG_MIN_SIM if n == 0 else _WORD_MIN_SIM):
                continue
            # E5 puts any text within ~0.03 of every tag: a unit names a tag only when one tag stands out.
            if best - float(np.median(sims)) < (_TAG_STAND_OUT if n == 0 else _WORD_STAND_OUT):
                continue
            for i in np.flatnonzero(sims >= best - _TAG_MARGIN):
                label = ALL_TAG_LABELS[int(i)]
                if label not in out or out[label][1] < sims[i]:
                    out[label] = (sign, float(sims[i]))
    return [(label, w, s) for label, (w, s) in out.items()]


def search_tags(store: Store, q: TextQuery) -> dict[str, Any]:
    """Rank by the sound view's tag probabilities that the sentence names (z-scored over the library)."""
    text = _check(q)
    fields = store.fields()
    wanted = [(label, w, s) for label, w, s in parse_tag_query(text) if tag_field(label) in fields]
    info: dict[str, Any] = {"text": text, "mode": "tags", "k": q.k, "where": q.where}
    info["tags"] = {label: w for label, w, _ in wanted}
    if not wanted:
        info["explain"] = "no tag of the sound view matches this text"
        return {"query": info, "results": []}
    cols = [tag_field(label) for label, _, _ in wanted]
    flt: Filter | None = store.compile_where(q.where)
    rows = list(store.scan(flt, columns=[*RESULT_FIELDS, *cols]))
    rows = [r for r in rows if all(r.get(c) is not None for c in cols)]
    if not rows:
        return {"query": info, "results": []}
    probs = np.array([[r[c] for c in cols] for r in rows], np.float64)
    z = (probs - probs.mean(axis=0)) / (probs.std(axis=0) + 1e-6)
    weights = np.array([w for _, w, _ in wanted])
    scores = z @ weights / np.abs(weights).sum()
    order = np.argsort(-scores)
    items = []
    for i in order:
        if q.min_score is not None and scores[i] < q.min_score:
            continue
        item = _item(rows[i], scores[i])
        item["tags"] = {label: round(float(rows[i][c]), 3) for (label, _, _), c in zip(wanted, cols, strict=True)}
        items.append(item)
        if len(items) >= dedupe.overfetch(q.k):
            break
    info["explain"] = "score = mean z-score of the named tags over the library (negated tags subtract)"
    return {"query": info, "results": _ranked(items, q.k)}


# ---- audio (CLAP) ------------------------------------------------------------------------
def _clap(store: Store, views: dict[str, int] | None = None) -> Any | None:
    """The library's CLAP analyzer when its sound view is CLAP, else None (``views``: if already read)."""
    from tonearm.analyzers import external, get_analyzer

    if "sound" not in (views if views is not None else store.views()):
        return None
    if (store.get_meta("views") or {}).get("sound") != "clap":
        return None
    external.use_library_paths(store)
    return get_analyzer("clap")


def search_audio(store: Store, q: TextQuery, clap: Any | None = None) -> dict[str, Any]:
    """Text-to-audio: CLAP's text embedding of the sentence against the sound view (``clap``: if found)."""
    text = _check(q)
    clap = clap or _clap(store)
    if clap is None:
        raise TonearmError(
            "text-to-audio search needs a CLAP sound view: tonearm index --views sound=clap --model-path clap=FOLDER"
        )
    vec = clap.embed_text([text])[0]
    hits = store.knn(
        "sound", vec, dedupe.overfetch(q.k), where=store.compile_where(q.where), columns=list(RESULT_FIELDS)
    )
    items = [_item(h.row, h.score) for h in hits if q.min_score is None or h.score >= q.min_score]
    info = {
        "text": text,
        "mode": "audio",
        "k": q.k,
        "where": q.where,
        "explain": "cosine of CLAP text and audio embeddings",
    }
    return {"query": info, "results": _ranked(items, q.k)}


# ---- auto --------------------------------------------------------------------------------
def search_auto(store: Store, q: TextQuery, backend: EmotionBackend | None = None) -> dict[str, Any]:
    """Reciprocal-rank fusion of the modes this library supports; each result names its modes."""
    text = _check(q)
    pool = TextQuery(text, max(q.k * 3, 30), q.where, q.min_score)  # min_score applies inside each mode
    runs: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    views = store.views()
    if "words" in views:
        # E5 scores every text ~0.8, so the words mode always returns *something*; only passages
        # that stand out from everyday sentences on other topics are fused.
        wide = search_words(store, TextQuery(text, max(PREFILTER, pool.k), q.where, q.min_score))
        qc = languages.centred(embed.query(text), wide["query"]["language"], "q")[0]
        floor = float(np.percentile(languages.everyday_scores(qc), 90)) + WORDS_STAND_OUT
        kept = [r for r in wide["results"] if r["score"] >= floor]
        # Passages that are only a track's tags count when the best of them answers the query; then,
        # as for lyrics and speech, the rest of them are fused by rank.
        best_tags = max((r["score"] for r in kept if r.get("source") == META_SOURCE), default=None)
        tags_floor = max(floor, float(np.percentile(catalogue.scores(qc), 90))) + TAGS_STAND_OUT
        if best_tags is not None and best_tags < tags_floor:
            kept = [r for r in kept if r.get("source") != META_SOURCE]
        kept = kept[: pool.k]
        runs["words"] = {"query": wide["query"], "results": kept}
        if not kept:
            skipped["words"] = "no passage stands out from the rest of the library"
    else:
        skipped["words"] = "no words view"
    if MOOD_VIEW in views:
        # Fuse mood only when the text expresses a feeling: a forced guess would add noise to every query.
        gate = (
            backend
            if backend is not None and not isinstance(backend, OfflineEmotions)
            else OfflineEmotions(min_evidence=AUTO_MOOD_EVIDENCE)
        )
        try:
            mood = search_mood(store, pool, gate)
        except TonearmError as exc:  # an LLM backend that failed: the other modes still answer
            skipped["mood"] = str(exc)
        else:
            if mood["query"]["emotions"]:
                runs["mood"] = mood
            else:
                skipped["mood"] = "the text expresses no emotion"
    else:
        skipped["mood"] = "no track has emotions"
    runs["tags"] = search_tags(store, pool)
    clap = _clap(store, views)
    if clap is not None:
        runs["audio"] = search_audio(store, pool, clap)
    fused: dict[str, dict[str, Any]] = {}
    for mode, payload in runs.items():
        for r in payload["results"]:
            entry = fused.setdefault(r["id"], {**{k: r.get(k) for k in RESULT_FIELDS}, "score": 0.0, "modes": {}})
            entry["score"] += MODE_WEIGHTS[mode] / (RRF_K + r["rank"])
            entry["modes"][mode] = r["rank"]
            for extra in ("passage", "start", "end", "emotions", "tags"):
                if extra in r and extra not in entry:
                    entry[extra] = r[extra]
    items = sorted(fused.values(), key=lambda r: -r["score"])
    for r in items:
        r["score"] = round(r["score"], 6)
    info = {
        "text": text, "mode": "auto", "k": q.k, "where": q.where, "skipped": skipped,
        "explain": _fusion_explain(list(runs), skipped),
        "modes": {m: p["query"].get("emotions") or p["query"].get("tags") for m, p in runs.items()},
    }  # fmt: skip
    return {"query": info, "results": _ranked(items, q.k)}


_MODE_NAMES = {"words": "words", "mood": "mood", "tags": "sound tags", "audio": "sound (CLAP)"}


def _fusion_explain(fused: list[str], skipped: dict[str, str]) -> str:
    """What answered, in words a listener reads, then how the lists were joined and what was left out."""
    names = [_MODE_NAMES[m] for m in fused]
    weights = ", ".join(f"{_MODE_NAMES[m]} ×{MODE_WEIGHTS[m]:g}" for m in fused)
    said = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    out = f"by {said} (reciprocal-rank fusion, k={RRF_K}: {weights})"
    left = [f"{_MODE_NAMES[m]}: {why}" for m, why in skipped.items()]
    return out + ("; not used: " + "; ".join(left) if left else "")


def search(store: Store, q: TextQuery, mode: str = "auto", backend: EmotionBackend | None = None) -> dict[str, Any]:
    """Run a text search in ``mode``; the JSON shape is ``{"query": ..., "results": [...]}``."""
    if mode == "words":
        return search_words(store, q)
    if mode == "mood":
        return search_mood(store, q, backend)
    if mode == "tags":
        return search_tags(store, q)
    if mode == "audio":
        return search_audio(store, q)
    if mode == "auto":
        return search_auto(store, q, backend)
    raise TonearmError(f"unknown search mode {mode!r}; choose one of {', '.join(MODES)}")


__all__ = ["MODES", "TextQuery", "parse_tag_query", "search"]
