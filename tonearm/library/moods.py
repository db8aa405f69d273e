"""Emotion tagging of indexed tracks: a pass after analysis, in the index process.

It runs here rather than in the analysis workers because the LLM backend must see one
shared, growing vocabulary (stored in the library) and is network-bound, not CPU-bound; the
offline backend reuses the passage vectors the words view already stored, so it costs a
few milliseconds per track. Tracks whose words (lyrics, transcript) changed, or that were
tagged by another backend, are (re)tagged; a failure leaves the track untagged, reports
why, and the next index run tries again. Instrumental tracks get no emotions: their mood
comes from the sound view's tags (``search --mode tags``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tonearm import failpoints
from tonearm.analyzers.words import decode_chunks
from tonearm.store.base import Store, vector_column
from tonearm.store.schema import MOOD_VIEW, VOCAB_META
from tonearm.words import moodspace
from tonearm.words.emotions import EmotionBackend, LLMError
from tonearm.words.moodspace import profile_vector
from tonearm.words.vocabulary import Vocabulary

log = logging.getLogger(__name__)

MOOD_FIELDS = ("emotions", "valence", "arousal", "ana_emotions", "ana_emotions_key")
_TYPES = {"emotions": "string", "valence": "number", "arousal": "number", "ana_emotions": "string",
          "ana_emotions_key": "string"}  # fmt: skip
_GIVE_UP_AFTER = 3  # consecutive endpoint failures before the rest of the run is skipped
SPACE_META = "mood_space"  # the mood space the library's mood vectors live in


@dataclass
class MoodReport:
    tagged: int = 0
    failed: int = 0
    skipped: int = 0
    reasons: list[str] = field(default_factory=list)


def load_vocabulary(store: Store) -> Vocabulary:
    return Vocabulary(list(store.get_meta(VOCAB_META) or []))


def tag_library(store: Store, backend: EmotionBackend, on_progress: Callable[[str], None] | None = None) -> MoodReport:
    """Tag every track with words whose emotions are missing or came from another backend."""
    report = MoodReport()
    if "words_source" not in store.fields():
        return report
    store.ensure_fields(_TYPES)  # type: ignore[arg-type]
    todo = [
        r["id"]
        for r in store.scan(columns=["id", "words_source", "ana_emotions_key"])
        if r.get("words_source") in ("lyrics", "transcript") and r.get("ana_emotions_key") != backend.key
    ]
    migrate_space(store)
    if not todo:
        return report
    if MOOD_VIEW not in store.views():
        store.ensure_view(MOOD_VIEW, moodspace.DIM)
        store.set_meta(SPACE_META, moodspace.SPACE_KEY)
    vocab = load_vocabulary(store)
    consecutive = 0
    for track in todo:
        if consecutive >= _GIVE_UP_AFTER:
            report.skipped += 1
            continue
        rows = store.get([track])
        if not rows:
            continue
        row = rows[0]
        chunks, vectors = decode_chunks(row.get("ana_words_chunks"))
        content = [i for i, c in enumerate(chunks) if c.get("k") != "meta"]
        try:
            emotions = backend.tag([chunks[i]["t"] for i in content], vocab, vectors[content])
        except LLMError as exc:
            consecutive += 1
            report.failed += 1
            if str(exc) not in report.reasons:
                report.reasons.append(str(exc))
            log.warning("emotions for %s: %s", row.get("path"), exc)
            continue
        consecutive = 0
        apply_emotions(row, emotions.weights, emotions.valence, emotions.arousal, backend.key)
        store.upsert([row])
        failpoints.hit("emotions")
        report.tagged += 1
        if on_progress:
            on_progress(row.get("path") or track)
    if consecutive >= _GIVE_UP_AFTER:
        report.reasons.append(
            f"gave up after {_GIVE_UP_AFTER} failures in a row; {report.skipped} tracks left untagged"
        )
    store.set_meta(VOCAB_META, vocab.added)
    return report


def migrate_space(store: Store) -> int:
    """Move mood vectors written in an older mood space into the current one; returns rows moved.

    The stored term weights (``ana_emotions``) are the source of truth, so nothing is re-tagged:
    an LLM's answers are kept, only their vectors are recomputed (milliseconds per track).
    """
    have = store.views().get(MOOD_VIEW)
    if have is None or (have == moodspace.DIM and store.get_meta(SPACE_META) == moodspace.SPACE_KEY):
        return 0
    if have != moodspace.DIM:
        store.drop_view(MOOD_VIEW)
        store.ensure_view(MOOD_VIEW, moodspace.DIM)
    ids = [r["id"] for r in store.scan(columns=["id", "ana_emotions"]) if r.get("ana_emotions")]
    for start in range(0, len(ids), 200):
        rows = store.get(ids[start : start + 200])
        for row in rows:
            weights = json.loads(row["ana_emotions"])
            row[vector_column(MOOD_VIEW)] = profile_vector(weights) if weights else None
        store.upsert(rows)
    store.set_meta(SPACE_META, moodspace.SPACE_KEY)
    return len(ids)


def apply_emotions(
    row: dict[str, Any], weights: dict[str, float], valence: float | None, arousal: float | None, key: str
) -> None:
    """Write emotions into a row: readable list, weights, valence/arousal, and the profile vector."""
    row["emotions"] = ", ".join(weights) if weights else None
    row["valence"] = valence
    row["arousal"] = arousal
    row["ana_emotions"] = json.dumps(weights) if weights else None
    row["ana_emotions_key"] = key
    row[vector_column(MOOD_VIEW)] = profile_vector(weights) if weights else None


def clear_emotions(row: dict[str, Any]) -> None:
    """Forget a row's emotions (its words changed); keys absent from the row are left alone."""
    for name in (*MOOD_FIELDS, vector_column(MOOD_VIEW)):
        if name in row:
            row[name] = None
