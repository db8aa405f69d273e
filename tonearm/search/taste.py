"""What listening says about taste: the read side of plays and likes.

``tonearm history import`` (``tonearm.library.history``), the Subsonic API's ``scrobble`` and the
web app's plays (``tonearm.store.listening``) record plays; a star (a like in the web app or a
player) counts as ``STAR_PLAYS`` plays made when it was given. Recommendations read them here, merged.
"""

from __future__ import annotations

import math
import time

from tonearm.store.base import Store
from tonearm.store.listening import play_counts, starred

STAR_PLAYS = 3.0  # a like says more than one play, less than a favourite played every week


def taste(store: Store, half_life_days: float = 90.0, now: float | None = None) -> list[tuple[str, float]]:
    """Tracks by affinity: plays and likes, each one's weight halving every ``half_life_days``."""
    now = now or time.time()
    scores: dict[str, float] = {}

    def add(track: str, weight: float, when: float) -> None:
        age_days = max(0.0, (now - (when or now)) / 86400)
        scores[track] = scores.get(track, 0.0) + weight * math.pow(0.5, age_days / half_life_days)

    for track, (plays, last) in play_counts(store).items():
        add(track, float(plays), last)
    for item, at in starred(store).items():
        if not item.startswith(("al-", "ar-", "pl-")):  # songs only: albums and artists are not tracks
            add(item, STAR_PLAYS, at)
    return sorted(scores.items(), key=lambda x: -x[1])


def recently_played(store: Store, days: float, now: float | None = None) -> list[str]:
    """Tracks whose last play is at most ``days`` old."""
    now = now or time.time()
    return [t for t, (_, last) in play_counts(store).items() if now - (last or 0.0) <= days * 86400]
