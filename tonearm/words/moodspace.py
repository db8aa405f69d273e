"""The mood space: emotion profiles as vectors in which different feelings are far apart.

Why not text embeddings: E5 places every emotion word near every other one (cosines 0.81-0.95
over the 40 vocabulary terms), so the weighted mean of term embeddings made grief and joy
look alike (0.90), and a cosine cut could not tell feelings apart. Centring those embeddings
spreads them but leaves nonsense neighbours (sadness next to anger and happiness).

Here a profile lives over the vocabulary's own terms, and a term-similarity kernel says which
feelings are related: ``K = 0.7 * families + 0.3 * circumplex``. *Families* are small, overlapping
groups of terms that name one main feeling (sadness, grief and despair are one family;
melancholy belongs to sadness and to longing; hope and pride, anger and betrayal are not
kin); their kernel is the cosine of the membership
vectors. The *circumplex* kernel is a Gaussian of the distance between the terms' valence and
arousal positions (Russell), so neighbours across families (anger and rage, calm and peace)
stay a little close. K is positive semi-definite, so a profile ``p`` (term weights) maps to
``K^{1/2} p`` and the cosine of two mapped profiles is ``p.K.q / (|p|_K |q|_K)``: 1 for the
same feeling, about 0 for unrelated ones (grief/joy 0.00, grief/sadness 0.98).

Terms an LLM backend added to the library's vocabulary are placed by their nearest base
terms (E5 cosine, softmax over the three closest), so the space keeps its dimension.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from tonearm.words.emotions import prototype_similarities
from tonearm.words.vocabulary import BY_TERM, EMOTIONS

SPACE_KEY = "kernel@1"  # recorded in the library: mood vectors of another space are recomputed
DIM = len(EMOTIONS)
FAMILY_WEIGHT = 0.7
CIRCUMPLEX_SIGMA = 0.35

FAMILIES: dict[str, tuple[str, ...]] = {
    "happy": ("joy", "happiness", "euphoria", "excitement"),
    "fun": ("playfulness",),
    "love": ("love", "tenderness"),
    "desire": ("desire", "passion"),
    "sad": ("sadness", "grief", "despair", "loneliness", "melancholy", "heartbreak"),
    "longing": ("longing", "nostalgia", "melancholy"),
    "lovesick": ("heartbreak", "longing"),
    "anger": ("anger", "rage"),
    "resentment": ("bitterness", "betrayal", "jealousy"),
    "rebellion": ("defiance",),
    "fear": ("fear", "anxiety"),
    "remorse": ("guilt", "shame", "regret"),
    "hope": ("hope",),
    "strength": ("determination", "confidence", "empowerment", "pride"),
    "freedom": ("freedom",),
    "serene": ("calm", "peace"),
    "relief": ("relief",),
    "thanks": ("gratitude",),
    "awe": ("wonder",),
    "dull": ("boredom",),
}


@cache
def kernel() -> np.ndarray:
    """The (40, 40) term-similarity kernel over the base vocabulary."""
    terms = [e.term for e in EMOTIONS]
    member = np.zeros((len(terms), len(FAMILIES)))
    for j, names in enumerate(FAMILIES.values()):
        for name in names:
            member[terms.index(name), j] = 1.0
    if (member.sum(axis=1) == 0).any():
        missing = [t for t, row in zip(terms, member, strict=True) if not row.any()]
        raise RuntimeError(f"emotion terms without a family: {missing}")
    member /= np.linalg.norm(member, axis=1, keepdims=True)
    va = np.array([(e.valence, e.arousal) for e in EMOTIONS])
    d2 = ((va[:, None, :] - va[None, :, :]) ** 2).sum(axis=2)
    return FAMILY_WEIGHT * member @ member.T + (1 - FAMILY_WEIGHT) * np.exp(-d2 / (2 * CIRCUMPLEX_SIGMA**2))


@cache
def _feature_map() -> np.ndarray:
    """``K^{1/2}``: row ``i`` is term ``i``'s coordinates; dot products of rows give K."""
    vals, vecs = np.linalg.eigh(kernel())
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


@cache
def _term_row(term: str) -> np.ndarray:
    rows = _feature_map()
    if term in BY_TERM:
        return rows[list(BY_TERM).index(term)]
    sims = prototype_similarities(term)
    top = np.argsort(-sims)[:3]
    w = np.exp((sims[top] - sims[top[0]]) / 0.01)
    return (w / w.sum()) @ rows[top]


def profile_vector(weights: dict[str, float]) -> np.ndarray:
    """A profile's point in the mood space (``DIM``-d, unit length)."""
    if not weights:
        raise ValueError("no emotions")
    v = sum(w * _term_row(t) for t, w in weights.items())
    return (v / (np.linalg.norm(v) + 1e-12)).astype(np.float32)


def similarity(a: dict[str, float], b: dict[str, float]) -> float:
    """Cosine of two profiles in the mood space."""
    return float(profile_vector(a) @ profile_vector(b))
