"""A stored row as people and API clients read it: no vectors, internal JSON fields decoded.

``tonearm info`` and ``GET /api/tracks/{id}`` show the same thing through this one function.
"""

from __future__ import annotations

import json
from typing import Any

from tonearm.words.lyrics import timed_lines

_HIDDEN = ("vec_", "raw_")
_DROPPED = ("sidecar_sig", "ana_emotions_key")
# A view's stretches and their search vectors (``ana_<view>_segments``, ``ana_<view>_set``): encoded numbers
# for ``similar --match sets``, not for reading.
_STRETCH_SUFFIXES = ("_segments", "_set")


def _stretches(key: str) -> bool:
    return key.startswith("ana_") and key.endswith(_STRETCH_SUFFIXES)


def readable_row(row: dict[str, Any]) -> dict[str, Any]:
    """Metadata, views, tags, emotions, transcript segments and passages of one row."""
    out = {k: v for k, v in row.items() if not k.startswith(_HIDDEN) and k not in _DROPPED and not _stretches(k)}
    out["views"] = json.loads(out.pop("views_json", None) or "{}")
    out["metadata"] = json.loads(out.pop("meta_json", None) or "{}")
    lines = timed_lines(out["metadata"]) if out["metadata"].get("lyrics_lrc") else []
    if lines and lines[0][0] is not None:  # time-synced lyrics, for following along as the track plays
        out["lyrics_lines"] = [{"start": s, "end": e, "text": w} for s, e, w in lines]
    chunks = out.pop("ana_words_chunks", None)
    if chunks:  # passages without their vectors (those are for search, not for reading)
        out["passages"] = [{"text": c["t"], "start": c.get("s"), "end": c.get("e"), "source": c.get("k")}
                           for c in json.loads(chunks)["chunks"]]  # fmt: skip
    for key, name in (("ana_transcript", "transcript_segments"), ("ana_emotions", "emotion_weights")):
        value = out.pop(key, None)
        if value:
            out[name] = json.loads(value)
    return out
