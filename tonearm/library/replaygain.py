"""ReplayGain values already written into a file's tags, read so that players need not measure again.

Many collections were tagged long ago by foobar2000, beets, rsgain or Picard. Subsonic players
(Symfonium, Feishin, Tempo) level playback from the ``replayGain`` the server reports, and the web
player uses the same figures before measuring anything itself (:mod:`tonearm.library.levels`).

Where the values live differs by format: ID3 ``TXXX:REPLAYGAIN_*`` frames (or the older ``RVA2``),
Vorbis comments and APEv2 items ``REPLAYGAIN_*``, MP4 freeform atoms
``----:com.apple.iTunes:replaygain_*``, and Opus files' ``R128_*_GAIN`` (an integer in 1/256 dB
relative to EBU R128's -23 LUFS, 5 dB under ReplayGain 2.0's -18 LUFS reference). Every gain is
reported against ReplayGain's reference, so a player applies it without knowing where it came from.
"""

from __future__ import annotations

import math
import re
from typing import Any

from tonearm.store.base import REPLAYGAIN_FIELDS as FIELDS

# Column names, as the tags name them.
TRACK_GAIN, TRACK_PEAK, ALBUM_GAIN, ALBUM_PEAK = FIELDS
REFERENCE_LUFS = -18.0  # ReplayGain 2.0: a gain brings the track to this loudness
_R128 = {"r128_track_gain": TRACK_GAIN, "r128_album_gain": ALBUM_GAIN}
R128_OFFSET_DB = 5.0  # -18 LUFS (ReplayGain 2.0) minus -23 LUFS (EBU R128)
_MP4_PREFIX = re.compile(r"^----:com\.apple\.itunes:", re.I)
_NUMBER = re.compile(r"^\s*([+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+))\s*(?:db)?\s*$", re.I)
MAX_GAIN_DB = 64.0  # beyond this a value is a typo or garbage, not a gain
MAX_PEAK = 64.0  # peaks of float files may pass 1.0; not by this much


def _text(value: Any) -> str | None:
    """One tag value as text: mutagen hands out lists, bytes (MP4 freeform) and frame objects."""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if value is None:
        return None
    if hasattr(value, "text"):  # an ID3 frame
        return _text(value.text)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _number(value: Any) -> float | None:
    text = _text(value)
    m = _NUMBER.match(text) if text else None
    if not m:
        return None
    x = float(m.group(1).replace(",", "."))
    return x if math.isfinite(x) else None


def _checked(values: dict[str, float | None]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, x in values.items():
        if x is None:
            continue
        if name.endswith("_gain") and abs(x) <= MAX_GAIN_DB:
            out[name] = round(x, 2)
        elif name.endswith("_peak") and 0.0 < x <= MAX_PEAK:
            out[name] = round(x, 6)
    return out


def _from_id3(tags: Any) -> dict[str, float | None]:
    values: dict[str, float | None] = {}
    for frame in tags.getall("TXXX"):
        name = (frame.desc or "").strip().lower()
        if name in FIELDS:
            values.setdefault(name, _number(frame))
    for frame in tags.getall("RVA2"):  # the ID3v2.4 frame older taggers wrote: desc "track" or "album"
        scope = (frame.desc or "").strip().lower()
        if scope in ("track", "album") and getattr(frame, "channel", 1) == 1:  # 1: the master volume
            values.setdefault(f"replaygain_{scope}_gain", float(frame.gain))
            values.setdefault(f"replaygain_{scope}_peak", float(frame.peak) or None)
    return values


def _from_keyed(tags: Any) -> dict[str, float | None]:
    values: dict[str, float | None] = {}
    try:
        items = list(tags.items())
    except Exception:  # a tag class that cannot list itself
        return values
    for key, value in items:
        name = _MP4_PREFIX.sub("", str(key)).strip().lower()
        if name in FIELDS:
            values.setdefault(name, _number(value))
        elif name in _R128:
            q78 = _number(value)
            if q78 is not None and float(q78).is_integer():
                values.setdefault(_R128[name], q78 / 256.0 + R128_OFFSET_DB)
    return values


def read_replaygain(tags: Any) -> dict[str, float]:
    """The ReplayGain gains (dB, against -18 LUFS) and peaks (linear) in mutagen ``tags``; only those
    present and sane (a gain within ±64 dB, a peak above 0)."""
    if not tags:
        return {}
    try:
        values = _from_id3(tags) if hasattr(tags, "getall") else _from_keyed(tags)
    except Exception:  # unreadable frames: no gains rather than no track
        return {}
    return _checked(values)


def track_loudness(gain_db: float) -> float:
    """The integrated loudness (LUFS) a ReplayGain 2.0 track gain says the track has."""
    return REFERENCE_LUFS - gain_db
