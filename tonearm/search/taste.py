"""What the listening history says about taste: the read side of ``tonearm.library.history``.

The importer writes per-track play counts and last-play times under ``HISTORY_META``;
recommendations read them here.
"""

from __future__ import annotations

import math
import time

from tonearm.store.base import Store
from tonearm.store.schema import HISTORY_META


def taste(store: Store, half_life_days: float = 90.0, now: float | None = None) -> list[tuple[str, float]]:
    """Tracks by affinity: play count with each play's weight halving every ``half_life_days``."""
    now = now or time.time()
    tracks = (store.get_meta(HISTORY_META) or {}).get("tracks") or {}
    scores = []
    for track, e in tracks.items():
        age_days = max(0.0, (now - float(e.get("last") or now)) / 86400)
        scores.append((track, float(e["plays"]) * math.pow(0.5, age_days / half_life_days)))
    return sorted(scores, key=lambda x: -x[1])


def recently_played(store: Store, days: float, now: float | None = None) -> list[str]:
    """Tracks whose last play is at most ``days`` old."""
    now = now or time.time()
    tracks = (store.get_meta(HISTORY_META) or {}).get("tracks") or {}
    return [t for t, e in tracks.items() if now - float(e.get("last") or 0) <= days * 86400]
