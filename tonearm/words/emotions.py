"""Emotions of a text (lyrics, a transcript, a listener's sentence): up to eight vocabulary terms.

Two backends share one output, ``{term: weight}`` over the controlled vocabulary
(:mod:`tonearm.words.vocabulary`):

* ``offline`` (default): zero-shot with multilingual E5. Each term's prototype is the mean
  query embedding of its English and Spanish description; a text's passages are scored
  against every prototype, minus the prototype's mean score on neutral sentences (E5 likes
  some descriptions more than others whatever the text), plus small valence and arousal cues
  (the text's position between positive/negative and calm/agitated anchors, times the
  term's circumplex position).
* ``llm``: any OpenAI-compatible chat endpoint. The prompt lists the vocabulary already in
  use and asks to reuse it; whatever comes back is merged into it (derivative forms, near-
  duplicates), so the vocabulary does not sprawl.

Words that name a feeling outright ("furioso", "scared", "funeral") add a fixed cue to that
term (:mod:`tonearm.words.lexicon`). The emotion profile vector (for mood similarity) lives in
:mod:`tonearm.words.moodspace`, where related feelings (grief, sadness) stay close and
different ones (grief, joy) are far apart.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import numpy as np

from tonearm.errors import TonearmError
from tonearm.words import embed, lexicon
from tonearm.words.vocabulary import EMOTIONS, Vocabulary, normalise_term

MAX_EMOTIONS = 8
# Emotionless sentences per language: E5 scores Spanish text higher on every emotion than English
# text, so each language has its own baseline (the everyday sentences of
# tonearm.words.languages stay out of it: they are what the gate is calibrated on).
_NEUTRAL: dict[str, tuple[str, ...]] = {
    "en": (
        "The meeting starts at three o'clock in room twelve.", "Add two cups of flour and stir.",
        "The train to the airport leaves every twenty minutes.", "This is a song about things.",
        "Turn left at the second traffic light.", "The parcel weighs four kilograms.",
        "Chapter two explains how to install the software.", "The shop sells paint, nails and screws.",
    ),
    "es": (
        "La reunión empieza a las tres en la sala doce.", "Añade dos tazas de harina y mezcla.",
        "El tren al aeropuerto sale cada veinte minutos.", "Esta es una canción sobre cosas.",
        "Gira a la izquierda en el segundo semáforo.", "El paquete pesa cuatro kilos.",
        "El capítulo dos explica cómo instalar el programa.", "La tienda vende pintura, clavos y tornillos.",
    ),
}  # fmt: skip
_AXES = {
    "valence": (
        ("happy, good, wonderful, love, smile", "feliz, bueno, maravilloso, amor, sonrisa"),
        ("sad, bad, terrible, pain, cry", "triste, malo, terrible, dolor, llorar"),
    ),
    "arousal": (
        ("loud, fast, wild, energetic, shouting", "fuerte, rápido, salvaje, enérgico, gritar"),
        ("quiet, slow, soft, sleepy, still", "tranquilo, lento, suave, dormido, quieto"),
    ),
}
_CUE_WEIGHT = 0.01  # valence/arousal cues: a tie-breaker, not the main signal
_AXIS_SCALE = 0.05  # axis scores beyond this are clipped to +-1
_KEEP_MARGIN = 0.015  # keep terms scoring within this of the best one
# Calibrated evidence a term needs (emotional texts score 0.03-0.07 on their best term, neutral
# talk and instructions -0.01-0.035): below it a text gets no emotions rather than random ones.
MIN_EVIDENCE = 0.02
# Added to a term the text names outright; about the gap between a clearly emotional text's best
# term and its fifth, so the named feeling leads unless the zero-shot scores strongly disagree.
LEXICAL_CUE = 0.03


class LLMError(TonearmError):
    """The LLM endpoint could not be used (unreachable, timed out, or answered nonsense)."""


@dataclass
class Emotions:
    """Up to eight terms with weights summing to 1, and the text's valence/arousal (-1..1)."""

    weights: dict[str, float]
    valence: float | None = None
    arousal: float | None = None

    @property
    def terms(self) -> list[str]:
        return list(self.weights)


class EmotionBackend(Protocol):
    key: str

    def tag(self, passages: list[str], vocab: Vocabulary, vectors: np.ndarray | None = None) -> Emotions: ...


@cache
def _prototype_matrix() -> np.ndarray:
    both = embed.constant([d for e in EMOTIONS for d in (e.en, e.es)], "query")
    protos = both.reshape(len(EMOTIONS), 2, embed.DIM).mean(axis=1)
    return protos / np.linalg.norm(protos, axis=1, keepdims=True)


@cache
def _neutral_bias(language: str) -> np.ndarray:
    return (embed.constant(_NEUTRAL[language], "passage") @ _prototype_matrix().T).mean(axis=0)


def _language_of(vector: np.ndarray) -> str:
    from tonearm.words import languages

    return languages.nearest(vector, "p", among=list(_NEUTRAL))


@cache
def _axis(name: str) -> tuple[np.ndarray, float]:
    pos, neg = _AXES[name]
    direction = embed.constant(pos, "query").mean(axis=0) - embed.constant(neg, "query").mean(axis=0)
    neutral = [t for texts in _NEUTRAL.values() for t in texts]
    return direction, float((embed.constant(neutral, "passage") @ direction).mean())


def prototype_similarities(term: str) -> np.ndarray:
    """E5 cosine of a free-form emotion term with each vocabulary term's prototype."""
    v = embed.queries([f"the feeling of {term}", f"el sentimiento de {term}"]).mean(axis=0)
    return _prototype_matrix() @ (v / np.linalg.norm(v))


def _evidence(vectors: np.ndarray, texts: list[str]) -> np.ndarray:
    """Per text and term: zero-shot score above the neutral bias, plus the cue for named feelings."""
    named = np.array([lexicon.cue_terms(t) for t in texts], bool)
    bias = np.array([_neutral_bias(_language_of(v)) for v in vectors])
    return vectors @ _prototype_matrix().T - bias + LEXICAL_CUE * named


def evidence_of(vectors: np.ndarray, texts: list[str]) -> np.ndarray:
    """The best term's evidence for each text (what the ``min_evidence`` gate compares)."""
    return _evidence(vectors, texts).max(axis=1)


class OfflineEmotions:
    """Zero-shot emotions with the text model (English and Spanish), no network."""

    key = "offline@2"

    def __init__(self, min_evidence: float | None = MIN_EVIDENCE) -> None:
        # None: always name the closest emotions (a listener's mood query must map to something).
        self.min_evidence = min_evidence

    def tag(self, passages: list[str], vocab: Vocabulary, vectors: np.ndarray | None = None) -> Emotions:
        if vectors is None:
            vectors = embed.passages(passages)
        if len(vectors) == 0:
            return Emotions({})
        evidence = _evidence(vectors.mean(axis=0, keepdims=True), ["\n".join(passages)])[0]
        cues = {}
        for name in ("valence", "arousal"):
            direction, bias = _axis(name)
            cues[name] = float(np.clip(((vectors @ direction).mean() - bias) / _AXIS_SCALE, -1, 1))
        scores = evidence + _CUE_WEIGHT * (
            cues["valence"] * np.array([e.valence for e in EMOTIONS])
            + cues["arousal"] * np.array([e.arousal for e in EMOTIONS])
        )
        order = np.argsort(-scores)[:MAX_EMOTIONS]
        best = scores[order[0]]
        keep = [i for i in order if scores[i] >= best - _KEEP_MARGIN]
        if self.min_evidence is not None:
            keep = [i for i in keep if evidence[i] >= self.min_evidence]
        if not keep:
            return Emotions({}, round(cues["valence"], 3), round(cues["arousal"], 3))
        w = np.exp((scores[keep] - best) / 0.005)
        w /= w.sum()
        weights = {EMOTIONS[i].term: round(float(x), 4) for i, x in zip(keep, w, strict=True)}
        return Emotions(weights, round(cues["valence"], 3), round(cues["arousal"], 3))


class LLMEmotions:
    """Emotions from an OpenAI-compatible chat endpoint (``/chat/completions``)."""

    def __init__(self, url: str, model: str, api_key_env: str = "TONEARM_LLM_API_KEY", timeout: float = 60.0):
        self.url = url.rstrip("/")
        if not self.url.endswith("/chat/completions"):
            self.url += "/chat/completions"
        self.model = model
        self.api_key = os.environ.get(api_key_env) or os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self.key = f"llm:{model}@1"

    def prompt(self, text: str, vocab: Vocabulary) -> list[dict[str, str]]:
        system = (
            "You label the emotions expressed in song lyrics or spoken texts (any language). "
            f'Answer with JSON only: {{"emotions": [{{"term": str, "weight": number}}]}}, at most {MAX_EMOTIONS} '
            "terms, weights between 0 and 1, strongest first. Terms are single English nouns naming an emotion. "
            "Reuse these terms whenever one fits; add a new term only for a feeling none of them covers, and never "
            "a synonym or another form of one of them: " + ", ".join(vocab.terms)
        )
        return [{"role": "system", "content": system}, {"role": "user", "content": text[:6000]}]

    def _call(self, messages: list[dict[str, str]]) -> str:
        body = json.dumps({"model": self.model, "messages": messages, "temperature": 0}).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "tonearm"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                payload = json.loads(resp.read(2_000_000))
        except TimeoutError as exc:
            raise LLMError(f"LLM at {self.url} timed out after {self.timeout:g} s") from exc
        except urllib.error.HTTPError as exc:
            raise LLMError(f"LLM at {self.url} answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                raise LLMError(f"LLM at {self.url} timed out after {self.timeout:g} s") from exc
            raise LLMError(f"LLM at {self.url} unreachable: {reason}") from exc
        except ValueError as exc:
            raise LLMError(f"LLM at {self.url} did not answer JSON") from exc
        try:
            return str(payload["choices"][0]["message"]["content"])
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMError(f"LLM at {self.url} gave no chat completion in its answer") from exc

    def tag(self, passages: list[str], vocab: Vocabulary, vectors: np.ndarray | None = None) -> Emotions:
        content = self._call(self.prompt("\n".join(passages), vocab))
        match = re.search(r"\{.*\}", content, re.S)
        try:
            items = json.loads(match.group(0))["emotions"] if match else None
            pairs = [(str(i["term"]), float(i.get("weight", 1.0))) for i in items]
        except (ValueError, KeyError, TypeError) as exc:
            raise LLMError(f"LLM answer is not the requested JSON: {content[:120]!r}") from exc
        weights: dict[str, float] = {}
        for term, w in pairs[: MAX_EMOTIONS * 2]:
            if not term.strip() or not np.isfinite(w) or w <= 0:
                continue
            canonical = merge_term(term, vocab)
            weights[canonical] = max(weights.get(canonical, 0.0), min(w, 1.0))
            if len(weights) == MAX_EMOTIONS:
                break
        if not weights:
            raise LLMError(f"LLM answer named no usable emotion: {content[:120]!r}")
        total = sum(weights.values())
        return Emotions({t: round(w / total, 4) for t, w in weights.items()})


def merge_term(term: str, vocab: Vocabulary, threshold: float = 0.915) -> str:
    """Map an LLM's term into the vocabulary: derivative forms, then near-duplicates by embedding.

    E5 places antonyms of one domain close too (sadness/happiness 0.89, sorrow/sadness 0.89),
    so only very close pairs merge (heartache -> heartbreak, 0.92); the prompt, which asks the
    model to reuse the listed terms, does most of the work.
    """
    found = vocab.canonical(term)
    if found:
        return found
    vecs = embed.queries([normalise_term(term), *vocab.terms])
    sims = vecs[1:] @ vecs[0]
    if sims.size and sims.max() >= threshold:
        return vocab.terms[int(sims.argmax())]
    return vocab.add(term)


def backend_from_settings(
    llm_url: str | None = None, llm_model: str | None = None, timeout: float = 60.0
) -> EmotionBackend:
    """The LLM backend when a URL is given (a model name is then required), else the offline one."""
    if llm_url:
        if not llm_model:
            raise TonearmError("--llm-url needs --llm-model")
        return LLMEmotions(llm_url, llm_model, timeout=timeout)
    return OfflineEmotions()
