"""Words that name a feeling outright, in English and Spanish: a cue beside the zero-shot scores.

Zero-shot emotion scores from E5 are weak on short sentences: "estoy furioso, quiero gritar"
scored guilt above anger, "I'm scared and alone" loneliness above fear. When a text names a
feeling ("furious", "miedo", "enamorado", "funeral"), that is the strongest evidence there is,
so a match adds a fixed cue to that term's score (:data:`tonearm.words.emotions.LEXICAL_CUE`).
Matching is on whole words or phrases of the lowercased text; the vocabulary's own English
forms (``Emotion.forms``) count too. The lists are general emotion words written for
tonearm, not a copy of any published lexicon.
"""

from __future__ import annotations

import re
from functools import cache

from tonearm.words.vocabulary import EMOTIONS

CUES: dict[str, tuple[str, ...]] = {
    "joy": ("joy", "alegría", "alegre", "alegres", "gozo", "júbilo", "jubilant", "delighted", "celebrate",
            "celebrar", "celebration", "celebración"),
    "happiness": ("happy", "cheerful", "feliz", "felices", "felicidad", "contento", "contenta", "glad"),
    "love": ("in love", "enamorado", "enamorada", "enamorados", "romantic", "romance", "romántica", "románticas",
             "romántico", "románticos", "amor", "te quiero", "te amo", "sweetheart", "darling"),
    "tenderness": ("tenderness", "ternura", "cariño", "tierno", "tierna", "affection"),
    "desire": ("deseo", "lust", "craving"),
    "passion": ("pasión", "apasionado", "apasionada"),
    "longing": ("yearning", "añoranza", "anhelo", "añoro", "extraño", "miss you", "te extraño"),
    "hope": ("esperanza", "ojalá", "hopeful", "hoping", "optimism", "optimismo", "optimista"),
    "sadness": ("sad", "triste", "tristes", "tristeza", "crying", "llorar", "lloro", "llorando", "tears",
                "lágrimas", "sorrow", "pena", "unhappy", "depressed", "deprimido", "deprimida"),
    "grief": ("mourning", "mourn", "funeral", "died", "dead", "death", "duelo", "luto", "murió", "muerto",
              "muerta", "ha muerto", "muerte", "entierro", "velorio", "passed away", "bereaved"),
    "heartbreak": ("broken heart", "corazón roto", "desamor", "breakup", "ruptura"),
    "loneliness": ("alone", "lonely", "soledad", "solitario", "solitaria"),
    "nostalgia": ("nostalgia", "nostálgico", "nostálgica", "old days", "good old days", "viejos tiempos",
                  "childhood", "infancia", "niñez", "when we were young", "cuando éramos jóvenes"),
    "melancholy": ("melancolía", "melancólico", "melancólica", "wistful"),
    "anger": ("angry", "mad at", "furious", "fury", "enfadado", "enfadada", "enojado", "enojada", "furioso",
              "furiosa", "furia", "ira", "cabreado", "cabreada", "irritated", "irritado"),
    "rage": ("rage", "rabia", "rabioso", "rabiosa", "enraged"),
    "fear": ("afraid", "scared", "terrified", "terror", "frightened", "miedo", "asustado", "asustada",
             "aterrorizado", "aterrorizada", "pánico", "panic", "horror", "horrified"),
    "anxiety": ("anxious", "nervous", "worried", "ansiedad", "nervioso", "nerviosa", "preocupado", "preocupada",
                "angustia"),
    "betrayal": ("betrayed", "traición", "traicionado", "traicionada", "traicionaste", "engaño", "engañaste",
                 "cheated"),
    "jealousy": ("jealous", "celos", "celoso", "celosa", "envy", "envidia"),
    "regret": ("regret", "arrepentido", "arrepentida", "arrepentimiento", "remordimiento"),
    "guilt": ("guilty", "culpa", "culpable"),
    "shame": ("ashamed", "vergüenza", "avergonzado", "avergonzada", "humiliated", "humillado"),
    "despair": ("hopeless", "desperate", "desesperación", "desesperado", "desesperada"),
    "bitterness": ("bitter", "amargura", "amargado", "rencor", "resentment", "resentido"),
    "calm": ("calm", "relaxed", "relaxing", "tranquil", "unwind", "calma", "tranquilo", "tranquila", "relajado",
             "relajada", "relajante", "sereno", "serena", "soothing"),
    "peace": ("peaceful", "serene", "paz", "serenidad", "en paz"),
    "gratitude": ("grateful", "thankful", "gratitud", "agradecido", "agradecida"),
    "excitement": ("excited", "emocionado", "emocionada", "thrilled", "can't wait"),
    "euphoria": ("euphoria", "euphoric", "euforia", "eufórico", "eufórica", "ecstatic", "extasiado"),
    "pride": ("proud", "orgullo", "orgulloso", "orgullosa"),
    "confidence": ("confident", "self-confidence", "seguro de mí", "segura de mí"),
    "determination": ("determined", "determinación", "decidido", "decidida", "never give up", "no rendirse"),
    "defiance": ("defiant", "rebel", "rebellion", "rebeldía", "rebelde", "desafío"),
    "relief": ("relieved", "alivio", "aliviado", "aliviada"),
    "wonder": ("awe", "wonder", "asombro", "maravillado", "maravillada"),
    "playfulness": ("playful", "juguetón", "juguetona", "silly"),
    "boredom": ("bored", "boring", "aburrido", "aburrida", "aburrimiento"),
    "freedom": ("freedom", "libertad", "libre", "libres"),
    "empowerment": ("empowered", "empoderado", "empoderada", "empoderamiento"),
}  # fmt: skip


@cache
def _patterns() -> list[re.Pattern[str]]:
    out = []
    for e in EMOTIONS:
        words = {e.term, *e.forms, *CUES.get(e.term, ())}
        alt = "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))
        out.append(re.compile(rf"(?<!\w)(?:{alt})(?!\w)", re.IGNORECASE))
    return out


def cue_terms(text: str) -> list[bool]:
    """For each vocabulary term (``EMOTIONS`` order), whether the text names it outright."""
    return [bool(p.search(text)) for p in _patterns()]
