"""Subsonic response objects (Child, AlbumID3, ArtistID3, ...) built from the catalogue and listener state.

Field rules that real clients enforce (``../shared/research/subsonic.md``, §3 and §7): ids are
strings (only ``musicFolder.id`` is a number), ints and booleans keep their JSON types, a song
always has ``isDir`` and ``title``, an album always has ``songCount``, ``duration`` and
``created``, ``discNumber`` defaults to 1, ``size`` is never 0 for a real file, and the
OpenSubsonic fields a server supports are sent even when empty. Clients known to choke on the
OpenSubsonic additions (DSub, SubMusic) get them left out, as Navidrome does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from tonearm.api.subsonic.protocol import NOT_FOUND, Params, SubsonicError
from tonearm.library.level_pass import album_loudness, gain_for, measured_levels
from tonearm.library.levels import is_current
from tonearm.library.replaygain import REFERENCE_LUFS
from tonearm.search.catalog import (
    IGNORED_ARTICLES,
    Album,
    Artist,
    Catalog,
    artist_id,
    normalise,
    song_title,
    sort_name,
)
from tonearm.store import listening
from tonearm.store.base import Store

CONTENT_TYPES = {
    "mp3": "audio/mpeg", "flac": "audio/flac", "ogg": "audio/ogg", "oga": "audio/ogg", "opus": "audio/ogg",
    "m4a": "audio/mp4", "m4b": "audio/mp4", "mp4": "audio/mp4", "aac": "audio/aac", "wav": "audio/wav",
    "wave": "audio/wav", "aif": "audio/aiff", "aiff": "audio/aiff", "webm": "audio/webm", "mkv": "video/x-matroska",
    "mka": "audio/x-matroska", "wma": "audio/x-ms-wma",
}  # fmt: skip
LEGACY_CLIENTS = ("dsub", "submusic")
IGNORED = " ".join(IGNORED_ARTICLES)
# Fields OpenSubsonic added to Child/AlbumID3/ArtistID3; left out for legacy clients.
OPEN_SUBSONIC_FIELDS = frozenset({
    "mediaType", "musicBrainzId", "sortName", "samplingRate", "channelCount", "genres", "displayArtist",
    "artists", "isCompilation", "played", "bpm", "comment", "roles", "replayGain",
})  # fmt: skip
# Child.replayGain keys by column (the values read from the file's tags).
_TRACK_GAIN, _TRACK_PEAK = "replaygain_track_gain", "replaygain_track_peak"
_REPLAY_GAIN_KEYS = {
    "replaygain_track_gain": "trackGain", "replaygain_track_peak": "trackPeak",
    "replaygain_album_gain": "albumGain", "replaygain_album_peak": "albumPeak",
}  # fmt: skip


def iso(epoch: float | None) -> str | None:
    """ISO 8601 in UTC with milliseconds, as Subsonic clients parse it."""
    if not epoch:
        return None
    return datetime.fromtimestamp(float(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(epoch * 1000) % 1000:03d}Z"


@dataclass
class Context:
    """One request: the store, its catalogue, the parameters and (loaded on demand) listener state."""

    store: Store
    catalog: Catalog
    params: Params
    user: str
    scan: Callable[[], bool] | None = None  # starts an index job of the server's folders (startScan)
    now_playing: dict[str, dict[str, Any]] = field(default_factory=dict)  # shared by the server process

    @cached_property
    def legacy(self) -> bool:
        client = (self.params.get("c") or "").strip().lower()
        return client.startswith(LEGACY_CLIENTS)

    @cached_property
    def plays(self) -> dict[str, tuple[int, float]]:
        return listening.play_counts(self.store)

    @cached_property
    def stars(self) -> dict[str, float]:
        return listening.starred(self.store)

    @cached_property
    def ratings(self) -> dict[str, int]:
        return listening.ratings(self.store)

    @cached_property
    def levels(self) -> dict[str, dict[str, Any]]:
        return measured_levels(self.store)

    @cached_property
    def album_gains(self) -> dict[str, dict[str, float]]:
        return {}  # album id -> its albumGain and albumPeak, worked out once per request

    def album_plays(self, album: Album) -> tuple[int, float]:
        counts = [self.plays.get(t, (0, 0.0)) for t in album.songs]
        return sum(c for c, _ in counts), max((last for _, last in counts), default=0.0)

    # ---- lookups that answer error 70 ---------------------------------------------------
    def song_row(self, item: str) -> dict[str, Any]:
        row = self.catalog.songs.get(item)
        if row is None:
            raise SubsonicError(NOT_FOUND, f"song not found: {item}")
        return row

    def album(self, item: str) -> Album:
        album = self.catalog.albums.get(item)
        if album is None:
            raise SubsonicError(NOT_FOUND, f"album not found: {item}")
        return album

    def artist(self, item: str) -> Artist:
        artist = self.catalog.artists.get(item)
        if artist is None:
            raise SubsonicError(NOT_FOUND, f"artist not found: {item}")
        return artist

    def trim(self, obj: dict[str, Any]) -> dict[str, Any]:
        if self.legacy:
            for key in OPEN_SUBSONIC_FIELDS & obj.keys():
                del obj[key]
        return obj


def _suffix(path: str) -> str:
    return os.path.splitext(path)[1].lower().lstrip(".")


def bit_rate(row: dict[str, Any]) -> int:
    dur, size = float(row.get("duration") or 0), float(row.get("size") or 0)
    return round(size * 8 / dur / 1000) if dur > 0 and size > 0 else 0


def song(ctx: Context, row: dict[str, Any]) -> dict[str, Any]:
    """A song as a Subsonic ``Child``."""
    cat = ctx.catalog
    aid = cat.album_of.get(row["id"])
    album = cat.albums.get(aid) if aid else None
    performer = (row.get("artist") or "").strip() or (album.artist if album else "")
    title = song_title(row)
    suffix = _suffix(row.get("path") or "")
    plays, last = ctx.plays.get(row["id"], (0, 0.0))
    track = int(row["track_no"]) if row.get("track_no") else None
    disc = int(row["disc_no"]) if row.get("disc_no") else 1
    album_name = album.name if album else (row.get("album") or "")
    fake_path = (
        f"{album.artist if album else performer}/{album_name}/{f'{track:02d} - ' if track else ''}{title}.{suffix}"
    )
    genre = row.get("genre") or None
    out = {
        "id": row["id"], "parent": aid, "isDir": False, "title": title, "album": album_name,
        "artist": performer, "track": track, "discNumber": disc,
        "year": int(row["year"]) if row.get("year") else None, "genre": genre, "coverArt": aid or row["id"],
        "size": int(row.get("size") or 0) or None, "contentType": CONTENT_TYPES.get(suffix, "application/octet-stream"),
        "suffix": suffix, "duration": round(float(row.get("duration") or 0)), "bitRate": bit_rate(row),
        "path": fake_path.replace(os.sep, "_") if os.sep != "/" else fake_path,
        "isVideo": False, "playCount": plays, "played": iso(last) if plays else None,
        "created": iso(row.get("added_at")) or iso(time.time()), "starred": iso(ctx.stars.get(row["id"])),
        "userRating": ctx.ratings.get(row["id"]), "albumId": aid,
        "artistId": artist_id(performer, row.get("musicbrainz_artistid")) if performer else None,
        "type": "music", "mediaType": "song", "musicBrainzId": row.get("musicbrainz_trackid") or "",
        "sortName": sort_name(title), "samplingRate": int(row.get("sample_rate") or 0) or None,
        "channelCount": int(row.get("channels") or 0) or None, "genres": [{"name": genre}] if genre else [],
        "displayArtist": performer, "replayGain": replay_gain(ctx, row),
    }  # fmt: skip
    return ctx.trim(out)


def _measured(ctx: Context, row: dict[str, Any]) -> tuple[float, float] | None:
    """(LUFS, peak) of tonearm's measurement of the song's current bytes, if it has one (silence has none)."""
    measured = ctx.levels.get(row["id"])
    if is_current(measured, row.get("content_hash")) and measured.get("lufs") is not None:
        return float(measured["lufs"]), float(measured["peak"])
    return None


def _track_level(ctx: Context, row: dict[str, Any]) -> tuple[float, float] | None:
    """(LUFS, peak) of a song: from its ReplayGain tags, else from tonearm's measurement of its bytes."""
    gain, peak = row.get(_TRACK_GAIN), row.get(_TRACK_PEAK)
    if gain is not None and peak is not None:
        return REFERENCE_LUFS - float(gain), float(peak)
    return _measured(ctx, row)


def _album_gain(ctx: Context, album_id: str | None) -> dict[str, float]:
    """albumGain and albumPeak from the album's songs, when every one of them has a level."""
    album = ctx.catalog.albums.get(album_id or "")
    if album is None:
        return {}
    if album.id not in ctx.album_gains:
        rows = [ctx.catalog.songs[t] for t in album.songs]
        levels = [_track_level(ctx, r) for r in rows]
        out: dict[str, float] = {}
        if levels and all(levels):
            parts = [(lv[0], float(r.get("duration") or 0.0)) for lv, r in zip(levels, rows, strict=True)]
            lufs = album_loudness(parts)
            if lufs is not None:
                out = {"albumGain": gain_for(lufs), "albumPeak": round(max(lv[1] for lv in levels), 6)}
        ctx.album_gains[album.id] = out
    return ctx.album_gains[album.id]


def replay_gain(ctx: Context, row: dict[str, Any]) -> dict[str, float]:
    """OpenSubsonic ``ReplayGain``: the file's tags first; what they lack, from tonearm's measurements
    (``tonearm levels`` measures every track; the web player measures what it plays): the track's
    gain to -18 LUFS and peak, and the album's when every song of it has a level. Keys without a
    value are left out, as the spec asks."""
    out = {key: float(row[col]) for col, key in _REPLAY_GAIN_KEYS.items() if row.get(col) is not None}
    measured = _measured(ctx, row) if "trackGain" not in out else None
    if measured is not None:
        out["trackGain"] = gain_for(measured[0])
        out.setdefault("trackPeak", measured[1])
    if "albumGain" not in out:
        album = _album_gain(ctx, ctx.catalog.album_of.get(row["id"]))
        out.update({k: v for k, v in album.items() if k not in out})
    return out


def album_id3(ctx: Context, album: Album, with_songs: bool = False) -> dict[str, Any]:
    plays, last = ctx.album_plays(album)
    out = {
        "id": album.id, "name": album.name, "artist": album.artist, "artistId": album.artist_id,
        "coverArt": album.id, "songCount": len(album.songs), "duration": round(album.duration),
        "playCount": plays, "played": iso(last) if plays else None, "created": iso(album.created) or iso(time.time()),
        "starred": iso(ctx.stars.get(album.id)), "userRating": ctx.ratings.get(album.id), "year": album.year,
        "genre": album.genre, "musicBrainzId": album.mbid or "",
        "genres": [{"name": album.genre}] if album.genre else [],
        "artists": [{"id": album.artist_id, "name": album.artist}], "displayArtist": album.artist,
        "sortName": sort_name(album.name), "isCompilation": False,
    }  # fmt: skip
    if with_songs:
        out["song"] = [song(ctx, ctx.catalog.songs[t]) for t in album.songs]
    return ctx.trim(out)


def album_child(ctx: Context, album: Album) -> dict[str, Any]:
    """An album as a directory ``Child`` (getAlbumList, getMusicDirectory, search2)."""
    plays, last = ctx.album_plays(album)
    out = {
        "id": album.id, "parent": album.artist_id, "isDir": True, "title": album.name, "name": album.name,
        "album": album.name, "artist": album.artist, "year": album.year, "genre": album.genre,
        "coverArt": album.id, "duration": round(album.duration), "playCount": plays,
        "created": iso(album.created) or iso(time.time()), "starred": iso(ctx.stars.get(album.id)),
        "userRating": ctx.ratings.get(album.id), "artistId": album.artist_id, "songCount": len(album.songs),
        "mediaType": "album", "played": iso(last) if plays else None,
    }  # fmt: skip
    return ctx.trim(out)


def artist_id3(ctx: Context, artist: Artist) -> dict[str, Any]:
    out = {
        "id": artist.id, "name": artist.name, "albumCount": len(artist.albums), "coverArt": artist.id,
        "starred": iso(ctx.stars.get(artist.id)), "musicBrainzId": artist.mbid or "",
        "sortName": sort_name(artist.name),
        "roles": ["albumartist"] if artist.albums else ["artist"],
    }  # fmt: skip
    return ctx.trim(out)


def artist_legacy(ctx: Context, artist: Artist) -> dict[str, Any]:
    """An artist of the folder view (``Artist``)."""
    out = artist_id3(ctx, artist)
    out["userRating"] = ctx.ratings.get(artist.id)
    return out


def index_letter(name: str) -> str:
    first = normalise(sort_name(name))[:1].upper()
    return first if first.isalpha() else "#"


def indexed(ctx: Context, artists: list[Artist], maker) -> list[dict[str, Any]]:
    """Artists grouped under their index letter, letters in order, '#' for the rest."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for a in artists:
        groups.setdefault(index_letter(a.name), []).append(maker(ctx, a))
    return [{"name": k, "artist": groups[k]} for k in sorted(groups, key=lambda k: (k == "#", k))]


def playlist(ctx: Context, pid: str, value: dict[str, Any], with_entries: bool = False) -> dict[str, Any]:
    entries = [t for t in value.get("entries") or [] if t in ctx.catalog.songs]
    out = {
        "id": pid, "name": value.get("name") or "", "comment": value.get("comment") or "",
        "owner": value.get("owner") or ctx.user, "public": bool(value.get("public", False)), "songCount": len(entries),
        "duration": round(sum(float(ctx.catalog.songs[t].get("duration") or 0) for t in entries)),
        "created": iso(value.get("created")) or iso(time.time()),
        "changed": iso(value.get("changed")) or iso(time.time()),
        "coverArt": ctx.catalog.album_of.get(entries[0]) if entries else pid,
    }  # fmt: skip
    if with_entries:
        out["entry"] = [song(ctx, ctx.catalog.songs[t]) for t in entries]
    return out
