"""How much to turn each track up or down so that playback stays at one loudness (the web player's levelling).

Albums mastered in different decades differ by 10 dB or more; a radio or a shuffled queue then
has listeners riding the volume. Each track's integrated loudness (ITU-R BS.1770, see
:mod:`tonearm.audio.loudness`) is measured the first time it is asked for (1.0 s for a 4-minute
stereo FLAC, 1.1 s for an MP3 on a 2-core machine, plus 1.7 s once per process to import
scipy.signal) and kept with the library (keyed by the file's content hash, so a
re-encoded file is measured again). The gain brings it to :data:`TARGET_LUFS`, the level the big
streaming services play at, but never so far up that its loudest sample would clip.

A file whose tags carry ReplayGain (gain and peak) is not measured: the tagger's figures are
used, as every player does with them.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

from tonearm.audio.loudness import file_loudness
from tonearm.errors import NotFoundError, TonearmError
from tonearm.library.replaygain import TRACK_GAIN, TRACK_PEAK, track_loudness
from tonearm.store.base import Store

TARGET_LUFS = -14.0
HEADROOM_DB = 1.0  # kept under full scale when a quiet track is raised (its peak was measured after resampling)
MAX_BOOST_DB = 12.0  # a whispered intro or a nearly silent file is not raised without bound
LEVELS_KIND = "playback_levels"  # track id -> {"hash", "lufs", "peak", "method"}
# Raised when the measurement changes, so that kept levels are measured again. 2: stereo channels
# measured apart (1 measured a mono downmix, which read wide or out-of-phase stereo low).
METHOD = 2


def gain_db(lufs: float | None, peak: float) -> float:
    """The gain (dB) that brings ``lufs`` to the target without pushing ``peak`` past the headroom."""
    if lufs is None:
        return 0.0  # silence: leave it alone
    limit = -20 * math.log10(peak) - HEADROOM_DB if peak > 0 else MAX_BOOST_DB
    return round(min(TARGET_LUFS - lufs, limit, MAX_BOOST_DB), 2)


def level_entry(content_hash: str | None, lufs: float | None, peak: float) -> dict[str, Any]:
    """A measurement as kept with the library (``LEVELS_KIND``), tied to the bytes it was made of."""
    return {"hash": content_hash, "lufs": None if lufs is None else round(lufs, 2), "peak": round(peak, 5),
            "method": METHOD}  # fmt: skip


def is_current(measured: dict[str, Any] | None, content_hash: str | None) -> bool:
    """Whether a kept measurement is of these bytes, by today's method."""
    return bool(measured) and measured.get("method") == METHOD and measured.get("hash") == content_hash


def playback_level(store: Store, track_id: str) -> dict[str, Any]:
    """The track's loudness and playback gain: from its ReplayGain tags when they give both gain and
    peak, else measured (and kept) when not known for its bytes."""
    tagged = [c for c in (TRACK_GAIN, TRACK_PEAK) if c in store.fields()]
    rows = store.get([track_id], columns=["id", "path", "content_hash", *tagged])
    if not rows:
        raise NotFoundError(f"no track {track_id}")
    row = rows[0]
    if row.get(TRACK_GAIN) is not None and row.get(TRACK_PEAK) is not None:
        lufs, peak = round(track_loudness(float(row[TRACK_GAIN])), 2), float(row[TRACK_PEAK])
        return _level(track_id, lufs, peak, "tags")
    known = store.state(LEVELS_KIND, [track_id]).get(track_id)
    if not is_current(known, row.get("content_hash")):
        known = level_entry(row.get("content_hash"), *file_loudness(row["path"]))
        with contextlib.suppress(TonearmError, OSError):  # a read-only library: measured again next time
            store.put_state(LEVELS_KIND, {track_id: known})
    return _level(track_id, known["lufs"], known["peak"], "measured")


def _level(track_id: str, lufs: float | None, peak: float, source: str) -> dict[str, Any]:
    return {
        "id": track_id, "lufs": lufs, "peak": peak, "target_lufs": TARGET_LUFS, "gain_db": gain_db(lufs, peak),
        "source": source,
    }  # fmt: skip
