"""The library as a place to browse and listen: home, albums, artists, genres, covers, stars, plays, loudness.

The web app's home page and its album, artist and genre pages read the same catalogue as
Subsonic players (``tonearm.search.catalog``: the same album and artist ids, one file per
recording), and stars and plays go to the same listener state, so a track liked in the browser
is starred in every player. Lists are paged and covers are separate cached requests, so a
library of tens of thousands of tracks answers its first screen from one cached catalogue.
"""

from __future__ import annotations

import functools
import os
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from tonearm.api.covers import cover
from tonearm.api.deps import StoreDep, Token
from tonearm.audio.loudness import loudness_strip
from tonearm.errors import TonearmError
from tonearm.library.levels import playback_level
from tonearm.search.catalog import Album, Catalog, catalog, normalise, song_title, sort_name
from tonearm.store import listening
from tonearm.store.base import Store

router = APIRouter()
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]
ALBUM_ORDERS = ("name", "recent", "year", "artist")


def cover_url(item: str, size: int = 300) -> str:
    return f"/api/covers/{item}?size={size}"


def album_card(album: Album, stars: dict[str, float]) -> dict[str, Any]:
    return {
        "id": album.id,
        "name": album.name,
        "artist": album.artist,
        "artist_id": album.artist_id,
        "year": album.year,
        "genre": album.genre,
        "songs": len(album.songs),
        "duration": round(album.duration, 1),
        "created": album.created,
        "cover": cover_url(album.id),
        "starred": album.id in stars,
    }


def song_item(cat: Catalog, track: str, stars: dict[str, float]) -> dict[str, Any]:
    row = cat.songs[track]
    album = cat.albums.get(cat.album_of.get(track, ""))
    return {
        "id": track,
        "title": song_title(row),
        "artist": row.get("artist"),
        "album": row.get("album"),
        "album_id": album.id if album else None,
        "genre": row.get("genre"),
        "year": row.get("year"),
        "duration": row.get("duration"),
        "track_no": row.get("track_no"),
        "cover": cover_url(album.id if album else track, 96),
        "starred": track in stars,
    }


def _page(items: list[Any], offset: int, limit: int) -> list[Any]:
    return items[offset : offset + limit]


def _sorted_albums(cat: Catalog, order: str) -> list[Album]:
    albums = list(cat.albums.values())
    by_name = lambda a: normalise(sort_name(a.name))  # noqa: E731 - one key reused below
    if order == "recent":
        return sorted(albums, key=lambda a: (-a.created, by_name(a)))
    if order == "year":
        return sorted(albums, key=lambda a: (-(a.year or 0), by_name(a)))
    if order == "artist":
        return sorted(albums, key=lambda a: (normalise(sort_name(a.artist)), a.year or 0, by_name(a)))
    return sorted(albums, key=by_name)


@router.get("/api/home", summary="What the library holds: counts, recent albums, artists, genres, recent plays")
def home(
    s: StoreDep, recent: Annotated[int, Query(ge=0, le=100)] = 12, artists: Annotated[int, Query(ge=0, le=200)] = 24
) -> dict[str, Any]:
    cat = catalog(s)
    stars = listening.starred(s)
    plays = listening.play_counts(s)
    top_artists = sorted(cat.artists.values(), key=lambda a: (-len(a.songs), normalise(a.name)))[:artists]
    played = sorted((t for t in plays if t in cat.songs), key=lambda t: -plays[t][1])[:12]
    failures = s.failures()
    return {
        "counts": {
            "tracks": len(cat.songs),
            "albums": len(cat.albums),
            "artists": len(cat.artists),
            "genres": len(cat.genres),
            "starred": len(stars),
            "failed": len(failures),
        },
        "recent_albums": [album_card(a, stars) for a in _sorted_albums(cat, "recent")[:recent]],
        "artists": [
            {"id": a.id, "name": a.name, "songs": len(a.songs), "albums": len(a.albums), "cover": cover_url(a.id, 96)}
            for a in top_artists
        ],
        "genres": [
            {"name": g, "songs": n, "albums": m}
            for g, (n, m) in sorted(cat.genres.items(), key=lambda kv: (-kv[1][0], kv[0]))
        ],
        "recently_played": [song_item(cat, t, stars) for t in played],
        "continue_listening": _in_progress(s, cat, stars),
        "failures": [{"path": f.get("path"), "reason": f.get("reason")} for f in failures[:20]],
    }


def _in_progress(s: Store, cat: Catalog, stars: dict[str, float], limit: int = 6) -> list[dict[str, Any]]:
    """Long tracks left part way (their bookmarks), most recently left first: an episode to go back to."""
    marks = sorted(((t, m) for t, m in listening.bookmarks(s).items() if t in cat.songs),
                   key=lambda tm: -(tm[1].get("changed") or 0))  # fmt: skip
    return [{**song_item(cat, t, stars), "position": m.get("position") or 0.0} for t, m in marks[:limit]]


@router.get("/api/albums", summary="Albums, paged: by name, recently added, year or artist")
def albums(
    s: StoreDep, offset: Offset = 0, limit: Limit = 60, sort: str = "name", genre: str | None = None
) -> dict[str, Any]:
    if sort not in ALBUM_ORDERS:
        raise HTTPException(400, f"sort must be one of {', '.join(ALBUM_ORDERS)}")
    cat = catalog(s)
    chosen = [a for a in _sorted_albums(cat, sort) if genre is None or a.genre == genre]
    stars = listening.starred(s)
    return {
        "total": len(chosen),
        "offset": offset,
        "albums": [album_card(a, stars) for a in _page(chosen, offset, limit)],
    }


@router.get("/api/albums/{album_id}", summary="An album and its tracks, in disc and track order")
def album(album_id: str, s: StoreDep) -> dict[str, Any]:
    cat = catalog(s)
    if album_id not in cat.albums:
        raise HTTPException(404, f"no album {album_id}")
    stars = listening.starred(s)
    a = cat.albums[album_id]
    return {**album_card(a, stars), "tracks": [song_item(cat, t, stars) for t in a.songs]}


@router.get("/api/artists", summary="Artists, paged, in index order (leading articles ignored)")
def artists(s: StoreDep, offset: Offset = 0, limit: Limit = 100) -> dict[str, Any]:
    cat = catalog(s)
    listed = cat.sorted_artists()
    return {
        "total": len(listed),
        "offset": offset,
        "artists": [
            {"id": a.id, "name": a.name, "songs": len(a.songs), "albums": len(a.albums), "cover": cover_url(a.id, 96)}
            for a in _page(listed, offset, limit)
        ],
    }


@router.get("/api/artists/{artist_id}", summary="An artist's albums and tracks")
def artist(artist_id: str, s: StoreDep) -> dict[str, Any]:
    cat = catalog(s)
    if artist_id not in cat.artists:
        raise HTTPException(404, f"no artist {artist_id}")
    a = cat.artists[artist_id]
    stars = listening.starred(s)
    owned = sorted((cat.albums[i] for i in a.albums), key=lambda al: (al.year or 0, normalise(al.name)))
    return {
        "id": a.id,
        "name": a.name,
        "cover": cover_url(a.id),
        "starred": a.id in stars,
        "albums": [album_card(al, stars) for al in owned],
        "tracks": [song_item(cat, t, stars) for t in a.songs[:500]],
        "songs": len(a.songs),
    }


@router.get("/api/genres/{name}", summary="A genre's albums and tracks, tracks paged")
def genre(name: str, s: StoreDep, offset: Offset = 0, limit: Limit = 100) -> dict[str, Any]:
    cat = catalog(s)
    if name not in cat.genres:
        raise HTTPException(404, f"no genre {name!r}")
    stars = listening.starred(s)
    tracks = sorted(
        (t for t, r in cat.songs.items() if r.get("genre") == name),
        key=lambda t: (normalise(cat.songs[t].get("artist") or ""), normalise(song_title(cat.songs[t]))),
    )
    return {
        "name": name,
        "songs": len(tracks),
        "albums": [album_card(a, stars) for a in _sorted_albums(cat, "name") if a.genre == name][:200],
        "tracks": [song_item(cat, t, stars) for t in _page(tracks, offset, limit)],
        "offset": offset,
    }


@router.get("/api/covers/{item}", summary="The picture of an album, artist or track (a drawn sleeve when none)")
def cover_image(item: str, s: StoreDep, size: Annotated[int, Query(ge=16, le=1200)] = 300) -> Response:
    data, mime = cover(s, catalog(s), item, size)
    return Response(data, media_type=mime, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/api/stars", summary="Starred items (tracks, albums, artists), newest first")
def stars(s: StoreDep) -> dict[str, Any]:
    starred = listening.starred(s)
    return {"ids": sorted(starred, key=lambda i: -starred[i])}


def _known_item(s: Store, item: str) -> None:
    cat = catalog(s)
    if item not in cat.songs and item not in cat.albums and item not in cat.artists:
        raise HTTPException(404, f"no track, album or artist {item}")


@router.put(
    "/api/stars/{item}", summary="Star a track, album or artist (shared with Subsonic players)", dependencies=[Token]
)
def star(item: str, s: StoreDep) -> dict[str, Any]:
    _known_item(s, item)
    listening.set_starred(s, [item], True)
    return {"id": item, "starred": True}


@router.delete("/api/stars/{item}", summary="Unstar a track, album or artist", dependencies=[Token])
def unstar(item: str, s: StoreDep) -> dict[str, Any]:
    _known_item(s, item)
    listening.set_starred(s, [item], False)
    return {"id": item, "starred": False}


@router.post(
    "/api/tracks/{track_id}/plays",
    summary="Count a play (a scrobble): feeds listening history and for-you",
    dependencies=[Token],
)
def played(track_id: str, s: StoreDep) -> dict[str, Any]:
    if not s.get([track_id], columns=["id"]):
        raise HTTPException(404, f"no track {track_id}")
    listening.record_play(s, track_id)
    count, last = listening.play_counts(s).get(track_id, (0, 0.0))
    return {"id": track_id, "plays": count, "last": last}


@router.get("/api/bookmarks", summary="Where listening stopped in long tracks (shared with Subsonic players)")
def get_bookmarks(s: StoreDep) -> dict[str, Any]:
    return {"bookmarks": listening.bookmarks(s)}


@router.put("/api/tracks/{track_id}/bookmark", summary="Remember a position (seconds) in a track", dependencies=[Token])
def put_bookmark(
    track_id: str, s: StoreDep, position: Annotated[float, Query(ge=0, le=1e7)], comment: str = ""
) -> dict[str, Any]:
    if not s.get([track_id], columns=["id"]):
        raise HTTPException(404, f"no track {track_id}")
    return {"id": track_id, **listening.set_bookmark(s, track_id, position, comment[:500])}


@router.delete("/api/tracks/{track_id}/bookmark", summary="Forget a track's bookmark", dependencies=[Token])
def delete_bookmark(track_id: str, s: StoreDep) -> dict[str, Any]:
    return {"id": track_id, "deleted": listening.delete_bookmark(s, track_id)}


@functools.lru_cache(maxsize=256)
def _strip(path: str, mtime_ns: int, points: int) -> tuple[float, tuple[float, ...]]:
    duration, values = loudness_strip(path, points)
    return duration, tuple(round(float(v), 3) for v in values)


@router.get("/api/tracks/{track_id}/loudness", summary="Loudness over the whole track (0..1 per column), to draw")
def loudness(track_id: str, s: StoreDep, points: Annotated[int, Query(ge=10, le=2000)] = 400) -> dict[str, Any]:
    rows = s.get([track_id], columns=["id", "path"])
    if not rows:
        raise HTTPException(404, f"no track {track_id}")
    path = rows[0]["path"]
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        raise HTTPException(410, "the track's file is gone from disk") from None
    try:
        duration, values = _strip(path, mtime, points)
    except TonearmError as exc:
        raise HTTPException(415, str(exc)) from None
    return {"id": track_id, "duration": round(duration, 3), "points": list(values)}


@router.get(
    "/api/tracks/{track_id}/level",
    summary="The track's integrated loudness (LUFS) and the gain (dB) that plays it at the common level",
)
def level(track_id: str, s: StoreDep) -> dict[str, Any]:
    rows = s.get([track_id], columns=["id", "path"])
    if not rows:
        raise HTTPException(404, f"no track {track_id}")
    if not os.path.isfile(rows[0]["path"]):
        raise HTTPException(410, "the track's file is gone from disk")
    try:
        return playback_level(s, track_id)
    except TonearmError as exc:
        raise HTTPException(415, str(exc)) from None


def catalog_ids(s: Store, track_id: str) -> dict[str, str | None]:
    """The album and album artist a track belongs to (ids and the names the catalogue gave them: an untagged
    file's album is its folder, its artist "Unknown artist"), for links from its page."""
    cat = catalog(s)
    album_ = cat.albums.get(cat.album_of.get(track_id, ""))
    return {
        "album_id": album_.id if album_ else None,
        "album_name": album_.name if album_ else None,
        "artist_id": album_.artist_id if album_ else None,
        "album_artist": album_.artist if album_ else None,
        "cover": cover_url(album_.id if album_ else track_id),
    }
