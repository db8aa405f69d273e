"""What listening says about taste: the read side of plays (imported history and players' scrobbles).

``tonearm history import`` (``tonearm.library.history``) and the Subsonic API's ``scrobble``
(``tonearm.store.listening``) record plays; recommendations read them here, merged.
"""

from __future__ import annotations

import math
import time

from tonearm.store.base import Store
from tonearm.store.listening import play_counts


def taste(store: Store, half_life_days: float = 90.0, now: float | None = None) -> list[tuple[str, float]]:
    """Tracks by affinity: play count with each play's weight halving every ``half_life_days``."""
    now = now or time.time()
    scores = []
    for track, (plays, last) in play_counts(store).items():
        age_days = max(0.0, (now - (last or now)) / 86400)
        scores.append((track, float(plays) * math.pow(0.5, age_days / half_life_days)))
    return sorted(scores, key=lambda x: -x[1])


def recently_played(store: Store, days: float, now: float | None = None) -> list[str]:
    """Tracks whose last play is at most ``days`` old."""
    now = now or time.time()
    return [t for t, (_, last) in play_counts(store).items() if now - (last or 0.0) <= days * 86400]
