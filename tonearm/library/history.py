"""Listening history: import plays and match them to library tracks (read back by ``tonearm.search.taste``).

Formats: a ListenBrainz export (JSON array or JSON lines of listens), a Last.fm export (CSV with
artist, album, title, date — with or without a header row), or a simple play log (CSV/TSV with a
header naming ``artist``, ``title`` and optionally ``played_at`` and ``path``). Plays are matched to
tracks by MusicBrainz recording id first, then by normalised artist + title (case, accents,
punctuation, "feat." credits and bracketed version notes like "(Remastered 2011)" ignored). The
library keeps, per matched track, the play count and the last play time; the import reports how
many plays matched and how.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tonearm.errors import TonearmError
from tonearm.store.base import Store
from tonearm.store.schema import HISTORY_META

_BRACKETS = re.compile(r"\s*[\(\[][^)\]]*(remaster|version|edit|mix|live|mono|stereo|feat|ft\.)[^)\]]*[\)\]]", re.I)
_FEAT = re.compile(r"\s+(feat\.?|ft\.?|featuring)\s+.*$", re.I)


@dataclass
class Play:
    artist: str
    title: str
    played_at: float | None = None
    mbid: str | None = None
    path: str | None = None


@dataclass
class ImportReport:
    plays: int = 0
    matched_mbid: int = 0
    matched_name: int = 0
    matched_path: int = 0
    unmatched: int = 0
    unmatched_examples: list[str] = field(default_factory=list)

    @property
    def matched(self) -> int:
        return self.matched_mbid + self.matched_name + self.matched_path


def normalise(text: str | None) -> str:
    """Comparable form of an artist or title."""
    t = unicodedata.normalize("NFKD", text or "")
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    t = _BRACKETS.sub("", t)
    t = _FEAT.sub("", t)
    t = re.sub(r"[^\w\s]", " ", t).replace("_", " ")
    return " ".join(t.split())


def _when(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        pass
    for fmt in ("%d %b %Y %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(str(value).strip().replace("Z", ""), fmt).timestamp()
        except ValueError:
            continue
    return None


def _why(exc: OSError | UnicodeDecodeError) -> str:
    """The reason in words (``describe``'s, except where an export file needs other ones)."""
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text (export it as JSON, CSV or a text log)"
    if isinstance(exc, IsADirectoryError):
        return "it is a folder; give the exported file"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    from tonearm.audio.decode import describe  # only on this error path: it loads the decoders

    return describe(exc)


def read_plays(path: str) -> Iterator[Play]:
    """Plays from any supported export; raises TonearmError for an unreadable file."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise TonearmError(f"cannot read {path}: {_why(exc)}") from None
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        try:
            items = (
                json.loads(text)
                if stripped.startswith("[")
                else [json.loads(ln) for ln in text.splitlines() if ln.strip()]
            )
        except ValueError as exc:
            raise TonearmError(f"{path}: not valid JSON ({exc})") from None
        for it in items:
            meta = it.get("track_metadata", it) if isinstance(it, dict) else {}
            extra = {**(meta.get("additional_info") or {}), **(meta.get("mbid_mapping") or {})}
            artist, title = meta.get("artist_name") or meta.get("artist"), meta.get("track_name") or meta.get("title")
            if artist and title:
                yield Play(str(artist), str(title), _when(it.get("listened_at")), extra.get("recording_mbid"))
        return
    sample = text[:4096]
    dialect = csv.excel_tab if sample.count("\t") > sample.count(",") else csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    if not rows:
        return
    header = [h.strip().lower() for h in rows[0]]
    if "artist" in header and ("title" in header or "track" in header):
        idx = {name: header.index(name) for name in header}

        def col(r: list[str], name: str | None) -> str | None:
            i = idx.get(name) if name else None
            return r[i] if i is not None and len(r) > i and r[i].strip() else None

        when_name = next((c for c in ("played_at", "date", "timestamp", "uts") if c in idx), None)
        title_name = "title" if "title" in idx else "track"
        for r in rows[1:]:
            artist, title = col(r, "artist"), col(r, title_name)
            if artist and title:
                yield Play(artist, title, _when(col(r, when_name)), col(r, "mbid"), col(r, "path"))
        return
    for r in rows:  # Last.fm exports without a header: artist, album, title, date
        if len(r) >= 3 and r[0].strip():
            yield Play(r[0], r[2], _when(r[3]) if len(r) > 3 else None)


def import_history(store: Store, path: str) -> ImportReport:
    """Match the file's plays to tracks and merge them into the library's history."""
    rows = list(store.scan(columns=["id", "path", "artist", "title", "musicbrainz_trackid"]))
    by_mbid = {r["musicbrainz_trackid"]: r["id"] for r in rows if r.get("musicbrainz_trackid")}
    by_name = {(normalise(r.get("artist")), normalise(r.get("title"))): r["id"] for r in rows if r.get("title")}
    by_path = {r["path"]: r["id"] for r in rows}
    history: dict[str, Any] = dict(store.get_meta(HISTORY_META) or {})
    tracks: dict[str, dict[str, float]] = dict(history.get("tracks") or {})
    report = ImportReport()
    for play in read_plays(path):
        report.plays += 1
        track = None
        if play.mbid and play.mbid in by_mbid:
            track, report.matched_mbid = by_mbid[play.mbid], report.matched_mbid + 1
        elif play.path and play.path in by_path:
            track, report.matched_path = by_path[play.path], report.matched_path + 1
        else:
            track = by_name.get((normalise(play.artist), normalise(play.title)))
            if track:
                report.matched_name += 1
        if track is None:
            report.unmatched += 1
            if len(report.unmatched_examples) < 5:
                report.unmatched_examples.append(f"{play.artist} - {play.title}")
            continue
        entry = tracks.setdefault(track, {"plays": 0, "last": 0.0})
        entry["plays"] += 1
        entry["last"] = max(entry["last"], play.played_at or time.time())
    history.update(tracks=tracks, imported_at=time.time())
    history["unmatched"] = int(history.get("unmatched", 0)) + report.unmatched
    store.set_meta(HISTORY_META, history)
    return report
