"""The controlled emotion vocabulary, and the merge of derivative forms into one term.

Lyrics and LLMs say "betrayed", "betrayal", "betraying"; a listener searching by mood needs
those to be one term, or the same feeling splits into three thin ones. ``canonical`` maps
any surface form to its vocabulary term: an irregular-forms table first (proud -> pride),
then a small derivational stemmer (suffixes -ness, -ful, -ed, -ing, -ly, ... and doubled
consonants) matched against the stems of the known terms. Each term has a short
description in English and Spanish (the zero-shot prototypes) and a valence/arousal position
(Russell's circumplex, -1..1) used as a cue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Emotion:
    term: str
    forms: tuple[str, ...]  # derivative surface forms that mean this term
    en: str
    es: str
    valence: float
    arousal: float


EMOTIONS: tuple[Emotion, ...] = (
    Emotion("joy", ("joyful", "joyous", "joyfully", "joys"), "pure joy and delight, celebrating", "alegría pura, celebrar con gozo", 0.9, 0.6),
    Emotion("happiness", ("happy", "happily", "happier"), "feeling happy, cheerful and content", "sentirse feliz, contento y alegre", 0.85, 0.4),
    Emotion("love", ("loving", "loved", "loves", "lover"), "being deeply in love with someone", "estar profundamente enamorado de alguien", 0.8, 0.4),
    Emotion("tenderness", ("tender", "tenderly"), "gentle tenderness and affection", "ternura y cariño suave", 0.7, -0.3),
    Emotion("desire", ("desired", "desiring", "desires", "desirous"), "physical desire and attraction", "deseo y atracción física", 0.5, 0.6),
    Emotion("passion", ("passionate", "passionately", "passions"), "intense, burning passion", "pasión intensa y ardiente", 0.5, 0.8),
    Emotion("longing", ("longed", "longs", "longingly"), "longing for someone who is far away", "añorar a alguien que está lejos", -0.2, 0.1),
    Emotion("hope", ("hopeful", "hoping", "hoped", "hopes", "hopefully", "hopefulness"), "hope that things will get better tomorrow", "esperanza de que mañana todo irá mejor", 0.6, 0.2),
    Emotion("sadness", ("sad", "sadly", "saddened", "sadden", "sadder"), "feeling sad, crying, tears", "tristeza, llorar, lágrimas", -0.75, -0.4),
    Emotion("grief", ("grieve", "grieving", "grieved", "griefs"), "grief and mourning after a death", "duelo y luto por la muerte de alguien", -0.85, -0.3),
    Emotion("heartbreak", ("heartbroken", "heartbreaking", "heartbreaks"), "a broken heart after a love ends", "un corazón roto cuando se acaba el amor", -0.8, 0.0),
    Emotion("loneliness", ("lonely", "lonesome", "lonelier"), "being lonely and alone, nobody around", "estar solo, soledad, sin nadie", -0.6, -0.4),
    Emotion("nostalgia", ("nostalgic", "nostalgically"), "nostalgia for the old days and memories of youth", "nostalgia por los viejos tiempos y recuerdos de la juventud", 0.0, -0.3),
    Emotion("melancholy", ("melancholic", "melancholia"), "quiet melancholy on a grey rainy day", "melancolía tranquila en un día gris de lluvia", -0.4, -0.5),
    Emotion("anger", ("angry", "angered", "angrily", "angers"), "anger, being furious and shouting", "ira, estar furioso y gritar", -0.7, 0.8),
    Emotion("rage", ("raging", "enraged", "rages"), "violent rage and destruction", "rabia violenta y destrucción", -0.8, 0.95),
    Emotion("fear", ("fearful", "feared", "fearing", "fears", "afraid", "scared"), "fear and terror, being afraid of danger", "miedo y terror ante el peligro", -0.7, 0.7),
    Emotion("anxiety", ("anxious", "anxiously", "anxieties"), "nervous anxiety and worry, restless nights", "ansiedad y preocupación nerviosa, noches sin dormir", -0.6, 0.6),
    Emotion("betrayal", ("betray", "betrayed", "betraying", "betrays", "betrayer"), "betrayal by someone you trusted, lies and cheating", "traición de alguien en quien confiabas, mentiras y engaño", -0.8, 0.5),
    Emotion("jealousy", ("jealous", "jealously", "jealousies"), "jealousy of a rival", "celos de un rival", -0.6, 0.6),
    Emotion("regret", ("regretful", "regretted", "regretting", "regrets", "regrettable"), "regret for mistakes you cannot undo", "arrepentimiento por errores que no se pueden deshacer", -0.6, -0.2),
    Emotion("guilt", ("guilty", "guiltily"), "guilt for having hurt someone", "culpa por haber hecho daño a alguien", -0.6, 0.1),
    Emotion("shame", ("ashamed", "shameful", "shamed"), "shame and humiliation", "vergüenza y humillación", -0.7, 0.2),
    Emotion("despair", ("despairing", "despaired", "desperate", "desperation"), "hopeless despair, giving up", "desesperación sin esperanza, rendirse", -0.9, 0.3),
    Emotion("bitterness", ("bitter", "bitterly"), "bitter resentment about the past", "amargura y rencor por el pasado", -0.6, 0.2),
    Emotion("calm", ("calmness", "calmly", "calming", "calmed"), "calm, quiet and relaxed", "calma, tranquilidad y relajación", 0.5, -0.8),
    Emotion("peace", ("peaceful", "peacefully", "peacefulness"), "inner peace and serenity", "paz interior y serenidad", 0.6, -0.7),
    Emotion("gratitude", ("grateful", "gratefully", "thankful", "thankfulness"), "gratitude, being thankful for what you have", "gratitud, dar gracias por lo que tienes", 0.7, -0.1),
    Emotion("excitement", ("excited", "exciting", "excite", "excitedly"), "excitement and energy, can't wait", "emoción y energía, no puedo esperar", 0.7, 0.85),
    Emotion("euphoria", ("euphoric", "euphorically"), "euphoria, dancing all night at a party", "euforia, bailar toda la noche en una fiesta", 0.85, 0.95),
    Emotion("pride", ("proud", "proudly", "prideful"), "pride in what you achieved", "orgullo por lo que has logrado", 0.6, 0.4),
    Emotion("confidence", ("confident", "confidently"), "self-confidence, believing in yourself", "confianza en uno mismo", 0.6, 0.4),
    Emotion("determination", ("determined", "determine", "determinedly"), "determination to keep fighting and never give up", "determinación para seguir luchando y no rendirse", 0.4, 0.6),
    Emotion("defiance", ("defiant", "defy", "defied", "defiantly"), "defiance against authority, rebellion", "desafío contra la autoridad, rebeldía", -0.1, 0.8),
    Emotion("relief", ("relieved", "relieve", "relieving"), "relief that the trouble is finally over", "alivio porque el problema por fin terminó", 0.5, -0.3),
    Emotion("wonder", ("wondrous", "wonderment"), "wonder and awe at the stars and nature", "asombro y maravilla ante las estrellas y la naturaleza", 0.6, 0.3),
    Emotion("playfulness", ("playful", "playfully"), "playful fun and silliness", "diversión juguetona y tonterías", 0.7, 0.5),
    Emotion("boredom", ("bored", "boring", "boredly"), "boredom, nothing happens", "aburrimiento, no pasa nada", -0.3, -0.7),
    Emotion("freedom", ("free", "freed", "freely"), "freedom, the open road, breaking free", "libertad, la carretera abierta, liberarse", 0.7, 0.5),
    Emotion("empowerment", ("empowered", "empower", "empowering"), "feeling strong and empowered", "sentirse fuerte y poderoso", 0.7, 0.7),
)  # fmt: skip

BY_TERM = {e.term: e for e in EMOTIONS}

_SUFFIXES = (
    "fulness", "lessness", "ousness", "ingly", "edly", "ness", "ment", "ance", "ence",
    "ful", "ous", "ing", "ity", "ism", "ed", "ly", "ic", "al", "er", "en", "es", "s", "y", "e",
)  # fmt: skip


def stem(word: str) -> str:
    """A crude derivational stem: strip suffixes (longest first, repeatedly), undouble consonants."""
    w = re.sub(r"[^a-z]", "", word.lower())
    changed = True
    while changed and len(w) > 4:
        changed = False
        for suf in _SUFFIXES:
            if w.endswith(suf) and len(w) - len(suf) >= 3:
                w = w[: -len(suf)]
                changed = True
                break
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiou":
        w = w[:-1]
    return w


def normalise_term(term: str) -> str:
    """Lowercase, single spaces, no punctuation at the ends."""
    return " ".join(re.sub(r"[^\w\s-]", " ", term.lower()).split())


class Vocabulary:
    """Emotion terms in use: the controlled base plus terms an LLM added, with derivative merging."""

    def __init__(self, extra: list[str] | None = None) -> None:
        self.terms: list[str] = [e.term for e in EMOTIONS]
        self._forms: dict[str, str] = {}
        self._stems: dict[str, str] = {}
        for e in EMOTIONS:
            self._register(e.term, e.term, e.forms)
        for t in extra or []:
            self.add(t)

    def _register(self, term: str, canonical: str, forms: tuple[str, ...] = ()) -> None:
        for f in (term, *forms):
            self._forms[normalise_term(f)] = canonical
            if len(stem(f)) >= 4:
                self._stems.setdefault(stem(f), canonical)

    def canonical(self, word: str) -> str | None:
        """The vocabulary term a surface form belongs to, or None if it is new."""
        w = normalise_term(word)
        if w in self._forms:
            return self._forms[w]
        s = stem(w)
        # Short stems are ambiguous (bit, ser): only exact forms match them.
        return self._stems.get(s) if " " not in w and len(s) >= 4 else None

    def add(self, word: str) -> str:
        """Merge ``word`` into the vocabulary; returns the term it became (existing or new)."""
        found = self.canonical(word)
        if found:
            return found
        w = normalise_term(word)
        if not w:
            raise ValueError("empty emotion term")
        self.terms.append(w)
        self._register(w, w)
        return w

    @property
    def added(self) -> list[str]:
        base = set(BY_TERM)
        return [t for t in self.terms if t not in base]


def merge_report(words: list[str] | None = None) -> dict[str, int]:
    """Vocabulary size before and after merging derivative forms (the base vocabulary by default)."""
    if words is None:
        words = [f for e in EMOTIONS for f in (e.term, *e.forms)]
    unique = list(dict.fromkeys(normalise_term(w) for w in words))
    vocab = Vocabulary()
    merged = {vocab.add(w) for w in unique}
    return {"surface_forms": len(unique), "terms": len(merged)}
