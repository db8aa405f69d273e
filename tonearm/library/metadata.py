"""Track metadata from embedded tags (mutagen) and from sidecar files.

Sidecars supply what tags lack (popularity, release date, URLs, lyrics, any custom field):
``<file>.json`` or ``<stem>.json`` next to the file, or a ``tracks.csv`` / ``tracks.jsonl``
in the same folder whose ``file`` column names the file. Sidecar values win over tags: a
sidecar is the user's deliberate correction. Keys that are not core fields become custom,
filterable columns (``--where "mood = 'calm'"``).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Any

from tonearm.library.replaygain import FIELDS as REPLAYGAIN_FIELDS
from tonearm.library.replaygain import read_replaygain
from tonearm.store.base import CORE_FIELDS, INTEGER_FIELDS, custom_field_name
from tonearm.store.filters import FieldType
from tonearm.words.lyrics import LYRICS_SUFFIXES, lyrics_files, read_lyrics_file

log = logging.getLogger(__name__)

TAG_FIELDS = (
    "title", "artist", "album", "albumartist", "genre", "year", "track_no", "disc_no",
    "musicbrainz_trackid", "musicbrainz_albumid", "musicbrainz_artistid", "lyrics", *REPLAYGAIN_FIELDS,
)  # fmt: skip
# Fields a sidecar may set besides tags; everything else becomes a custom field.
SIDECAR_CORE = set(TAG_FIELDS) | {"popularity", "release_date", "urls"}
_ALIASES = {"tracknumber": "track_no", "track": "track_no", "discnumber": "disc_no", "date": "year"}
_SIDECAR_TABLES = ("tracks.csv", "tracks.jsonl")
# What read_tags knows how to read; raised when it learns more, so that index runs read the tags of
# unchanged files once more (tag_recheck.py). 2: comment, description, and Vorbis LYRICS (missed by 1).
# 3: ReplayGain gains and peaks.
TAG_READER = 3
_FILE_KEYS = ("file", "path", "filename")
_META_ONLY = frozenset({"lyrics_lrc"})  # kept in the row's metadata JSON, not as a column


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _leading_int(value: Any) -> int | None:
    m = re.match(r"\s*(\d+)", str(value)) if value is not None else None
    return int(m.group(1)) if m else None


def read_tags(path: str) -> dict[str, Any]:
    """Standard tags via mutagen; unreadable tags give an empty dict, never an error."""
    import mutagen

    out: dict[str, Any] = {}
    try:
        easy = mutagen.File(path, easy=True)
    except Exception as exc:
        log.debug("%s: tags unreadable (%s)", path, exc)
        return out
    if easy is None:
        return out
    tags = easy.tags or {}
    for key in ("title", "artist", "album", "albumartist", "genre", "date", "tracknumber", "discnumber",
                "musicbrainz_trackid", "musicbrainz_albumid", "musicbrainz_artistid"):  # fmt: skip
        try:
            value = _first(tags.get(key))
        except Exception:  # some tag classes raise on unknown keys
            value = None
        if value not in (None, ""):
            out[_ALIASES.get(key, key)] = str(value)
    out.update(_read_raw(path))
    return out


# Free-text tags a player shows as "comment" or "description" (podcast downloaders keep the episode's
# show notes there). They join the words view's metadata passage, so an episode is found by its notes.
_NOTE_KEYS = {
    "comment": ("comment", "\xa9cmt"),  # Vorbis/FLAC/Opus and APE, MP4
    "description": ("description", "desc", "ldes"),  # Vorbis, MP4 short and long description
}
_ITUNES_NOTE = re.compile(r"^itun", re.I)  # iTunNORM, iTunSMPB, iTunPGAP: numbers, not words
_MARKUP = re.compile(r"</?(?:p|br|a|b|i|u|em|strong|ul|ol|li|div|span|h[1-6]|img|blockquote|hr)\b[^>]*>", re.I)
_URL = re.compile(r"\S+://\S+|www\.\S+", re.I)
# What shops and rippers stamp into every file: the same line on thousands of tracks, about none of them.
_STAMP = re.compile(
    r"^\s*(amazon\.com song id|ripped (by|with)|encoded (by|with)|exact ?audio ?copy|eac\b|"
    r"lame\b|created (by|with)|downloaded from)",
    re.I,
)
MAX_NOTE_CHARS = 4000


def _first_text(value: Any) -> str | None:
    value = _first(value)
    return str(value) if value not in (None, "") else None


def _id3_texts(tags: Any) -> dict[str, str | None]:
    comments = [f for f in tags.getall("COMM") if not _ITUNES_NOTE.match(f.desc or "")]
    plain = [f for f in comments if (f.desc or "").lower() in ("", "comment", "comments")] or comments
    return {
        "lyrics": _first_text([str(f.text) for f in tags.getall("USLT")]),
        "comment": _first_text([str(f.text[0]) for f in plain if f.text]),
        "description": _first_text([str(f.text[0]) for f in tags.getall("TDES") if f.text]),
    }


def _keyed_texts(tags: Any) -> dict[str, str | None]:
    def get(key: str) -> str | None:
        try:
            return _first_text(tags[key]) if key in tags else None
        except (KeyError, ValueError):  # Vorbis comments refuse a non-ASCII key such as MP4's '\xa9lyr'
            return None

    def pick(keys: tuple[str, ...]) -> str | None:
        return next((t for k in keys if (t := get(k))), None)

    out = {name: pick(keys) for name, keys in _NOTE_KEYS.items()}
    out["lyrics"] = pick(("\xa9lyr", "lyrics", "unsyncedlyrics", "LYRICS", "UNSYNCEDLYRICS"))
    return out


def clean_note(text: str) -> str | None:
    """A comment or description as plain words: markup dropped, whitespace folded, capped; None when it
    has fewer than two words (a rip log's '0000 0C1A ...' or a lone URL says nothing about the track) or
    is a shop's or ripper's stamp ('Amazon.com Song ID: 2261...', 'Ripped by ...')."""
    import html

    plain = " ".join(html.unescape(_MARKUP.sub(" ", text)).split())[:MAX_NOTE_CHARS]
    if _STAMP.match(plain):
        return None
    return plain if len(re.findall(r"[^\W\d_]{2,}", _URL.sub(" ", plain))) >= 2 else None


def _mp3gain_items(path: str) -> dict[str, float]:
    """ReplayGain that mp3gain and some players write as an APEv2 block at the end of an MP3."""
    if not path.lower().endswith(".mp3"):
        return {}
    from mutagen.apev2 import APEv2

    try:
        return read_replaygain(APEv2(path))
    except Exception:  # no APEv2 block (the usual case) or a damaged one
        return {}


def _read_raw(path: str) -> dict[str, Any]:
    """Lyrics, comment, description and ReplayGain from the raw tags (the easy interfaces do not map them)."""
    import mutagen

    try:
        raw = mutagen.File(path)
    except Exception:
        return {}
    tags = getattr(raw, "tags", None)
    out: dict[str, Any] = (read_replaygain(tags) if tags else {}) or _mp3gain_items(path)
    if not tags:
        return out
    try:
        found = _id3_texts(tags) if hasattr(tags, "getall") else _keyed_texts(tags)
    except Exception:  # a tag class that raises on lookups: no texts rather than no track
        return out
    for name, text in found.items():
        value = text if name == "lyrics" else (clean_note(text) if text else None)
        if value:
            out[name] = value
    return out


# ---- sidecars -----------------------------------------------------------------------------
def sidecar_paths(path: str) -> list[Path]:
    """Sidecar files that may describe ``path`` (existing ones only), lyrics files included."""
    p = Path(path)
    candidates = [Path(f"{p}.json"), p.with_suffix(".json")] + [p.parent / n for n in _SIDECAR_TABLES]
    return [c for c in dict.fromkeys(candidates) if _is_file(c)] + lyrics_files(path)


def _is_file(path: Path) -> bool:
    """Whether a sidecar exists; a name the file system refuses (``<250-byte name>.json`` is too long) does not."""
    try:
        return path.is_file()
    except OSError:
        return False


def sidecar_signature(path: str) -> str:
    """Changes whenever a sidecar of ``path`` appears, disappears or is edited."""
    parts = []
    for c in sidecar_paths(path):
        try:
            st = c.stat()
            parts.append(f"{c.name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            continue
    return "|".join(parts)


class SidecarReader:
    """Reads sidecars, caching per-folder tables so a folder's CSV is parsed once per run."""

    def __init__(self) -> None:
        self._tables: dict[Path, dict[str, dict[str, Any]]] = {}

    def _table(self, table_path: Path) -> dict[str, dict[str, Any]]:
        if table_path not in self._tables:
            rows: list[dict[str, Any]] = []
            try:
                with open(table_path, encoding="utf-8-sig", newline="") as f:
                    if table_path.suffix == ".csv":
                        rows = [dict(r) for r in csv.DictReader(f)]
                    else:
                        rows = [json.loads(line) for line in f if line.strip()]
            except (OSError, ValueError, csv.Error) as exc:
                log.warning("sidecar %s ignored: %s", table_path, exc)
            index: dict[str, dict[str, Any]] = {}
            for r in rows:
                if not isinstance(r, dict):
                    continue
                key = next((r[k] for k in _FILE_KEYS if r.get(k)), None)
                if key:
                    index[os.path.normpath(str(key))] = {k: v for k, v in r.items() if k not in _FILE_KEYS}
            self._tables[table_path] = index
        return self._tables[table_path]

    def read(self, path: str) -> dict[str, Any]:
        """Merged sidecar fields for ``path`` (per-file JSON wins over folder tables)."""
        merged: dict[str, Any] = dict(read_lyrics_file(path) or {})  # a sidecar's "lyrics" key wins
        p = Path(path)
        for c in reversed(sidecar_paths(path)):
            if c.suffix in LYRICS_SUFFIXES:
                continue
            if c.name in _SIDECAR_TABLES:
                merged.update(self._table(c).get(p.name, {}))
            else:
                try:
                    data = json.loads(c.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    log.warning("sidecar %s ignored: %s", c, exc)
                    continue
                if isinstance(data, dict):
                    merged.update(data)
        return merged


# ---- normalisation into columns ----------------------------------------------------------
def _coerce_core(name: str, value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if name == "year":
        year = _leading_int(value)
        return year if year and 0 < year < 10000 else None
    if name in INTEGER_FIELDS:
        return _leading_int(value)
    if CORE_FIELDS.get(name) == "number":
        try:
            x = float(value)
        except (TypeError, ValueError):
            return None
        return x if math.isfinite(x) else None
    if name == "urls" and isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _custom_value(value: Any) -> tuple[Any, FieldType] | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value, "bool"
    if isinstance(value, (int, float)):
        return (float(value), "number") if math.isfinite(float(value)) else None
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):  # CSV numbers arrive as text
            return float(text), "number"
        if text.lower() in ("true", "false"):
            return text.lower() == "true", "bool"
        return value, "string"
    return json.dumps(value, ensure_ascii=False), "string"


def to_columns(
    tags: dict[str, Any], sidecar: dict[str, Any], known: dict[str, FieldType]
) -> tuple[dict[str, Any], dict[str, FieldType], dict[str, Any]]:
    """Split tag and sidecar values into core columns, custom columns (with new types) and full meta.

    ``known`` are the library's current fields: a custom value that does not fit an existing
    column's type is kept in the row's metadata JSON but not in the column.
    """
    merged: dict[str, Any] = dict(tags)
    for key, value in sidecar.items():
        merged[_ALIASES.get(key.lower(), key.lower()) if key.lower() in _ALIASES else key] = value
    columns: dict[str, Any] = {}
    new_fields: dict[str, FieldType] = {}
    for key, value in merged.items():
        if key in _META_ONLY:
            continue
        if key in SIDECAR_CORE:
            columns[key] = _coerce_core(key, value)
            continue
        name = custom_field_name(key)
        if name is None or name in CORE_FIELDS:
            continue
        typed = _custom_value(value)
        if typed is None:
            continue
        val, ftype = typed
        have = known.get(name) or new_fields.get(name)
        if have and have != ftype:
            if have == "string":
                val = str(value)
            else:
                log.info("custom field %r: value %r does not fit its %s column", name, value, have)
                continue
        elif not have:
            new_fields[name] = ftype
        columns[name] = val
    return columns, new_fields, merged
