"""Lyrics beside the audio: ``.lrc`` (time-synced) and ``.txt`` files with the track's stem.

Embedded tags (ID3 USLT, Vorbis LYRICS, MP4 ©lyr) are read with the other tags, and a
sidecar's ``lyrics`` key wins over everything (see :mod:`tonearm.library.metadata`). Nothing
is fetched from the network.
"""

from __future__ import annotations

import re
from pathlib import Path

_LRC_TIME = re.compile(r"\[(\d{1,3}):(\d{1,2}(?:[.:]\d{1,3})?)\]")
_LRC_TAG = re.compile(r"^\[[a-zA-Z]+:.*\]$")  # [ar:Artist], [ti:Title], [offset:+100]
LYRICS_SUFFIXES = (".lrc", ".txt")


def lyrics_files(path: str) -> list[Path]:
    """Existing lyrics files for ``path``, most precise first (.lrc before .txt)."""
    p = Path(path)
    found = []
    for c in (p.with_suffix(s) for s in LYRICS_SUFFIXES):
        try:
            if c != p and c.is_file():
                found.append(c)
        except OSError:  # a name the file system refuses (too long) is no lyrics file
            continue
    return found


def parse_lrc(text: str) -> list[tuple[float, str]]:
    """``[mm:ss.xx] line`` pairs, sorted by time; a line with several stamps appears at each."""
    out: list[tuple[float, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or (_LRC_TAG.match(line) and not _LRC_TIME.match(line)):
            continue
        stamps = _LRC_TIME.findall(line)
        words = _LRC_TIME.sub("", line).strip()
        if not stamps or not words:
            continue
        for minutes, seconds in stamps:
            out.append((int(minutes) * 60 + float(seconds.replace(":", ".")), words))
    return sorted(out, key=lambda x: x[0])


def read_lyrics_file(path: str, max_bytes: int = 1_000_000) -> dict[str, str] | None:
    """``{"lyrics": plain text, "lyrics_lrc": original LRC}`` from the first lyrics file, or None."""
    for f in lyrics_files(path):
        try:
            if f.stat().st_size > max_bytes:
                continue
            text = f.read_text(encoding="utf-8-sig", errors="replace")
        except OSError:
            continue
        if f.suffix == ".lrc":
            lines = parse_lrc(text)
            if lines:
                return {"lyrics": "\n".join(t for _, t in lines), "lyrics_lrc": text}
            continue
        if text.strip():
            return {"lyrics": text.strip()}
    return None


def timed_lines(meta: dict) -> list[tuple[float | None, float | None, str]]:
    """Lyrics as (start, end, line) triples: timed when an LRC is known, else untimed."""
    lrc = meta.get("lyrics_lrc")
    if lrc:
        lines = parse_lrc(str(lrc))
        if lines:
            ends = [t for t, _ in lines[1:]] + [None]
            return [(t, e, w) for (t, w), e in zip(lines, ends, strict=True)]
    text = str(meta.get("lyrics") or "")
    return [(None, None, line.strip()) for line in text.splitlines() if line.strip()]
