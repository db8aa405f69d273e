"""The library as players browse it: artists, albums, songs and genres derived from tags.

Subsonic-style browsing (and the web app's home page) needs albums and artists, which tonearm
never stored: a track row has ``album``, ``albumartist``, ``artist`` and MusicBrainz ids. The
catalogue groups rows into albums and artists with ids that depend on tags only (never on row
order or paths), so a re-index keeps them:

* a song's id is its track id (the same 16 hex digits the CLI and the web app use);
* an album is ``al-`` + a digest of (album artist, else artist; album name; MusicBrainz release
  id), names compared case-, accent- and space-insensitively; a track without an album tag
  belongs to an album named after its folder;
* an artist is ``ar-`` + a digest of its MusicBrainz artist id, else its name.

Only one file of each recording is listed (copies found by the duplicate pass are left out),
as in every other list tonearm returns. A catalogue is built from one scan of the tracks table
and cached per library until the library changes (``Store.revision``).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from tonearm.store.base import REPLAYGAIN_FIELDS, Store
from tonearm.store.schema import DUP_FIELD

COLUMNS = [
    "id", "path", "title", "artist", "album", "albumartist", "genre", "year", "track_no", "disc_no",
    "duration", "size", "sample_rate", "channels", "added_at", "musicbrainz_trackid", "musicbrainz_albumid",
    "musicbrainz_artistid", "content_hash", DUP_FIELD, *REPLAYGAIN_FIELDS,
]  # fmt: skip
UNKNOWN_ARTIST = "Unknown artist"
IGNORED_ARTICLES = ("The", "El", "La", "Los", "Las", "Le", "Les", "Die", "Der", "Das")


def normalise(text: str | None) -> str:
    """Comparable form of a name: case, accents and runs of spaces ignored."""
    t = unicodedata.normalize("NFKD", text or "")
    t = "".join(c for c in t if not unicodedata.combining(c))
    return " ".join(t.casefold().split())


def sort_name(name: str) -> str:
    """The name without a leading article, for sorting and the index letter ("The Beatles" under B)."""
    for article in IGNORED_ARTICLES:
        if name.lower().startswith(article.lower() + " "):
            return name[len(article) + 1 :].strip()
    return name


def _digest(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def artist_id(name: str, mbid: str | None = None) -> str:
    return "ar-" + _digest("mbid", mbid) if mbid else "ar-" + _digest("name", normalise(name))


def album_id(artist: str, album: str, mbid: str | None = None) -> str:
    return "al-" + _digest(normalise(artist), normalise(album), mbid or "")


@dataclass
class Album:
    id: str
    name: str
    artist: str
    artist_id: str
    songs: list[str] = field(default_factory=list)  # track ids, in disc/track order
    year: int | None = None
    genre: str | None = None
    duration: float = 0.0
    created: float = 0.0  # when its first track was indexed (epoch seconds)
    mbid: str | None = None


@dataclass
class Artist:
    id: str
    name: str
    albums: list[str] = field(default_factory=list)
    songs: list[str] = field(default_factory=list)
    mbid: str | None = None


@dataclass
class Catalog:
    """Songs (track rows), albums, artists and genres of one library at one revision."""

    songs: dict[str, dict[str, Any]]
    albums: dict[str, Album]
    artists: dict[str, Artist]
    genres: dict[str, tuple[int, int]]  # genre -> (songs, albums)
    album_of: dict[str, str]  # track id -> album id
    built_at: float = 0.0
    _words: dict[str, str] = field(default_factory=dict, repr=False)  # id -> normalised searchable text

    def sorted_artists(self) -> list[Artist]:
        return sorted(self.artists.values(), key=lambda a: normalise(sort_name(a.name)))

    def text(self, item_id: str) -> str:
        """Normalised words of a song, album or artist, for name search."""
        if item_id not in self._words:
            if item_id in self.songs:
                r = self.songs[item_id]
                raw = f"{song_title(r)} {r.get('artist') or ''} {r.get('album') or ''}"
            elif item_id in self.albums:
                a = self.albums[item_id]
                raw = f"{a.name} {a.artist}"
            else:
                raw = self.artists[item_id].name
            self._words[item_id] = normalise(raw)
        return self._words[item_id]

    def search(self, query: str, items: list[str]) -> list[str]:
        """Items whose name words start with every word of the query (an empty query matches all)."""
        words = normalise(query.strip().strip('"').rstrip("*")).split()
        if not words:
            return items
        out = []
        for item in items:
            have = self.text(item).split()
            if all(any(h.startswith(w) for h in have) for w in words):
                out.append(item)
        return out


def song_title(row: dict[str, Any]) -> str:
    return row.get("title") or os.path.splitext(os.path.basename(row.get("path") or ""))[0] or row["id"]


def build(rows: list[dict[str, Any]]) -> Catalog:
    """Group track rows into albums and artists (pure: the same rows always give the same ids)."""
    songs = {
        r["id"]: r for r in rows if not r.get(DUP_FIELD) or r.get(DUP_FIELD) == r["id"]
    }  # one file per recording: the keeper of each duplicate group
    albums: dict[str, Album] = {}
    artists: dict[str, Artist] = {}
    album_of: dict[str, str] = {}
    genre_songs: dict[str, int] = {}
    genre_albums: dict[str, set[str]] = {}

    def artist_for(name: str, mbid: str | None) -> Artist:
        aid = artist_id(name, mbid)
        if aid not in artists:
            artists[aid] = Artist(aid, name, mbid=mbid)
        return artists[aid]

    for r in sorted(songs.values(), key=lambda r: (r.get("path") or "", r["id"])):
        performer = (r.get("artist") or "").strip() or UNKNOWN_ARTIST
        album_artist = (r.get("albumartist") or "").strip() or performer
        album_name = (r.get("album") or "").strip() or os.path.basename(os.path.dirname(r.get("path") or "")) or "?"
        mbid = r.get("musicbrainz_albumid") or None
        owner = artist_for(album_artist, r.get("musicbrainz_artistid") if album_artist == performer else None)
        aid = album_id(album_artist, album_name, mbid)
        album = albums.get(aid)
        if album is None:
            album = albums[aid] = Album(aid, album_name, album_artist, owner.id, mbid=mbid, created=float("inf"))
            owner.albums.append(aid)
        album.songs.append(r["id"])
        album.duration += float(r.get("duration") or 0.0)
        album.created = min(album.created, float(r.get("added_at") or 0.0))
        album.year = album.year or (int(r["year"]) if r.get("year") else None)
        album.genre = album.genre or r.get("genre") or None
        album_of[r["id"]] = aid
        artist_for(performer, r.get("musicbrainz_artistid")).songs.append(r["id"])
        if r.get("genre"):
            genre_songs[r["genre"]] = genre_songs.get(r["genre"], 0) + 1
            genre_albums.setdefault(r["genre"], set()).add(aid)
    for album in albums.values():
        album.songs.sort(key=lambda t: (songs[t].get("disc_no") or 1, songs[t].get("track_no") or 0,
                                        normalise(song_title(songs[t]))))  # fmt: skip
        if album.created == float("inf"):
            album.created = 0.0
    genres = {g: (n, len(genre_albums[g])) for g, n in genre_songs.items()}
    return Catalog(songs, albums, artists, genres, album_of, time.time())


_CACHE: dict[str, tuple[str, Catalog]] = {}
_LOCK = threading.Lock()


def catalog(store: Store) -> Catalog:
    """The library's catalogue, rebuilt only when the library changed since the last call."""
    revision = store.revision()
    with _LOCK:
        hit = _CACHE.get(store.location)
        if hit and hit[0] == revision:
            return hit[1]
    cols = [c for c in COLUMNS if c in store.fields() or c in ("id", "path")]
    built = build(list(store.scan(columns=cols)))
    with _LOCK:
        _CACHE[store.location] = (revision, built)
    return built
