"""Browsing: the artist index (tags and folders), artists, albums, songs, genres, search, lyrics, starred."""

from __future__ import annotations

import time
from typing import Any

from tonearm.api.subsonic.protocol import NOT_FOUND, Payload, SubsonicError
from tonearm.api.subsonic.registry import endpoint
from tonearm.api.subsonic.views import (
    IGNORED,
    Context,
    album_child,
    album_id3,
    artist_id3,
    artist_legacy,
    indexed,
    song,
)
from tonearm.search.catalog import normalise, song_title


def _album_artists(ctx: Context) -> list:
    return [a for a in ctx.catalog.sorted_artists() if a.albums]


def _last_modified(ctx: Context) -> int:
    newest = max((float(r.get("added_at") or 0) for r in ctx.catalog.songs.values()), default=0.0)
    return int((newest or ctx.catalog.built_at or time.time()) * 1000)


@endpoint("getIndexes")
def get_indexes(ctx: Context) -> Payload:
    since = ctx.params.integer("ifModifiedSince", 0, low=0)
    modified = _last_modified(ctx)
    out: dict[str, Any] = {"ignoredArticles": IGNORED, "lastModified": modified}
    if not since or since < modified:
        out["index"] = indexed(ctx, _album_artists(ctx), artist_legacy)
    return "indexes", out


@endpoint("getArtists")
def get_artists(ctx: Context) -> Payload:
    return "artists", {"ignoredArticles": IGNORED, "index": indexed(ctx, _album_artists(ctx), artist_id3)}


@endpoint("getArtist")
def get_artist(ctx: Context) -> Payload:
    artist = ctx.artist(ctx.params.require("id"))
    out = artist_id3(ctx, artist)
    albums = sorted((ctx.catalog.albums[a] for a in artist.albums), key=lambda a: (a.year or 0, normalise(a.name)))
    out["album"] = [album_id3(ctx, a) for a in albums]
    return "artist", out


@endpoint("getAlbum")
def get_album(ctx: Context) -> Payload:
    return "album", album_id3(ctx, ctx.album(ctx.params.require("id")), with_songs=True)


@endpoint("getSong")
def get_song(ctx: Context) -> Payload:
    return "song", song(ctx, ctx.song_row(ctx.params.require("id")))


@endpoint("getMusicDirectory")
def get_music_directory(ctx: Context) -> Payload:
    """Folder-mode browsing over tags: artist -> albums (directories) -> songs."""
    item = ctx.params.require("id")
    cat = ctx.catalog
    if item in cat.artists:
        artist = cat.artists[item]
        children = [album_child(ctx, cat.albums[a]) for a in artist.albums]
        out = {"id": artist.id, "name": artist.name, "child": children, "starred": None}
        return "directory", out
    if item in cat.albums:
        album = cat.albums[item]
        return "directory", {"id": album.id, "name": album.name, "parent": album.artist_id,
                             "child": [song(ctx, cat.songs[t]) for t in album.songs]}  # fmt: skip
    if item in cat.songs:
        row = cat.songs[item]
        return "directory", {"id": item, "name": song_title(row), "parent": cat.album_of.get(item), "child": []}
    raise SubsonicError(NOT_FOUND, f"directory not found: {item}")


@endpoint("getGenres")
def get_genres(ctx: Context) -> Payload:
    genres = sorted(ctx.catalog.genres.items(), key=lambda kv: normalise(kv[0]))
    return "genres", {"genre": [{"value": g, "songCount": s, "albumCount": a} for g, (s, a) in genres]}


@endpoint("getSongsByGenre")
def get_songs_by_genre(ctx: Context) -> Payload:
    genre = ctx.params.require("genre")
    count = ctx.params.integer("count", 10, low=0, high=500)
    offset = ctx.params.integer("offset", 0, low=0)
    want = normalise(genre)
    ids = [t for t, r in ctx.catalog.songs.items() if normalise(r.get("genre")) == want]
    ids.sort(key=lambda t: (ctx.catalog.album_of.get(t, ""), ctx.catalog.songs[t].get("track_no") or 0))
    return "songsByGenre", {"song": [song(ctx, ctx.catalog.songs[t]) for t in ids[offset : offset + count]]}


def _search(ctx: Context, id3: bool) -> dict[str, Any]:
    """search2/search3: name search over artists, albums and songs; an empty query returns everything, paged."""
    p = ctx.params
    query = p.get("query", "") or ""
    cat = ctx.catalog
    out: dict[str, Any] = {}
    artist_ids = [a.id for a in cat.sorted_artists() if a.albums]
    album_ids = sorted(cat.albums, key=lambda a: (normalise(cat.albums[a].artist), normalise(cat.albums[a].name)))
    song_ids = sorted(cat.songs, key=lambda t: (cat.album_of.get(t, ""), cat.songs[t].get("disc_no") or 1,
                                                cat.songs[t].get("track_no") or 0, t))  # fmt: skip
    for key, ids, count_name in (("artist", artist_ids, "artistCount"), ("album", album_ids, "albumCount"),
                                 ("song", song_ids, "songCount")):  # fmt: skip
        count = p.integer(count_name, 20, low=0, high=1000)
        offset = p.integer(count_name.replace("Count", "Offset"), 0, low=0)
        hits = cat.search(query, ids)[offset : offset + count] if count else []
        if key == "artist":
            out[key] = [(artist_id3 if id3 else artist_legacy)(ctx, cat.artists[a]) for a in hits]
        elif key == "album":
            out[key] = [(album_id3 if id3 else album_child)(ctx, cat.albums[a]) for a in hits]
        else:
            out[key] = [song(ctx, cat.songs[t]) for t in hits]
    return out


@endpoint("search2")
def search2(ctx: Context) -> Payload:
    return "searchResult2", _search(ctx, id3=False)


@endpoint("search3")
def search3(ctx: Context) -> Payload:
    return "searchResult3", _search(ctx, id3=True)


@endpoint("search")
def search_legacy(ctx: Context) -> Payload:
    """The pre-1.4 search: any, artist, album or title words; songs only."""
    p = ctx.params
    words = " ".join(x for x in (p.get("any"), p.get("artist"), p.get("album"), p.get("title")) if x)
    count, offset = p.integer("count", 20, low=0, high=500), p.integer("offset", 0, low=0)
    hits = ctx.catalog.search(words, sorted(ctx.catalog.songs))
    match = [song(ctx, ctx.catalog.songs[t]) for t in hits[offset : offset + count]]
    return "searchResult", {"offset": offset, "totalHits": len(hits), "match": match}


def _starred(ctx: Context, id3: bool) -> dict[str, Any]:
    cat, stars = ctx.catalog, ctx.stars
    order = sorted(stars, key=lambda k: -stars[k])
    return {
        "artist": [(artist_id3 if id3 else artist_legacy)(ctx, cat.artists[i]) for i in order if i in cat.artists],
        "album": [(album_id3 if id3 else album_child)(ctx, cat.albums[i]) for i in order if i in cat.albums],
        "song": [song(ctx, cat.songs[i]) for i in order if i in cat.songs],
    }


@endpoint("getStarred")
def get_starred(ctx: Context) -> Payload:
    return "starred", _starred(ctx, id3=False)


@endpoint("getStarred2")
def get_starred2(ctx: Context) -> Payload:
    return "starred2", _starred(ctx, id3=True)


@endpoint("getAlbumInfo", "getAlbumInfo2")
def get_album_info(ctx: Context) -> Payload:
    item = ctx.params.require("id")
    album = ctx.catalog.albums.get(item) or ctx.catalog.albums.get(ctx.catalog.album_of.get(item, ""))
    return "albumInfo", {"notes": "", "musicBrainzId": (album.mbid if album else None) or ""}


def _lyrics_lines(row: dict[str, Any]) -> tuple[bool, list[dict[str, Any]]]:
    import json

    from tonearm.words.lyrics import timed_lines

    meta = json.loads(row.get("meta_json") or "{}") if row.get("meta_json") else {}
    meta.setdefault("lyrics", row.get("lyrics"))
    lines = timed_lines(meta)
    synced = bool(lines) and all(start is not None for start, _, _ in lines)
    out = [{"start": round(start * 1000), "value": text} if synced else {"value": text}
           for start, _, text in lines]  # fmt: skip
    return synced, out


def _lyrics_columns(ctx: Context) -> list[str]:
    have = ctx.store.columns()
    return [c for c in ("id", "lyrics", "meta_json", "language") if c in have]  # no words view: no language


@endpoint("getLyricsBySongId")
def get_lyrics_by_song_id(ctx: Context) -> Payload:
    item = ctx.params.require("id")
    ctx.song_row(item)
    rows = ctx.store.get([item], columns=_lyrics_columns(ctx))
    if not rows:
        raise SubsonicError(NOT_FOUND, f"song not found: {item}")
    synced, lines = _lyrics_lines(rows[0])
    if not lines:
        return "lyricsList", {"structuredLyrics": []}
    return "lyricsList", {"structuredLyrics": [{"lang": rows[0].get("language") or "xxx", "synced": synced,
                                                "line": lines}]}  # fmt: skip


@endpoint("getLyrics")
def get_lyrics(ctx: Context) -> Payload:
    artist, title = normalise(ctx.params.get("artist")), normalise(ctx.params.get("title"))
    for t, r in ctx.catalog.songs.items():
        if title and normalise(song_title(r)) == title and (not artist or normalise(r.get("artist")) == artist):
            rows = ctx.store.get([t], columns=_lyrics_columns(ctx))
            _, lines = _lyrics_lines(rows[0]) if rows else (False, [])
            if lines:
                return "lyrics", {"artist": r.get("artist") or "", "title": song_title(r),
                                  "value": "\n".join(line["value"] for line in lines)}  # fmt: skip
    return "lyrics", {"value": ""}
