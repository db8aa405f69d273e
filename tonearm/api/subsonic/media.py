"""Bytes: ``stream`` and ``download`` (the original file, with Range and HEAD), ``getCoverArt``, ``getAvatar``.

Streams are the original files: tonearm does not transcode, so ``maxBitRate`` and ``format``
are accepted and ignored and no ``transcodedSuffix`` is announced (clients then play the
original, which the spec allows). ``Content-Length`` is always sent, ranges are honoured
(seeking in browsers and ExoPlayer), and a stream never counts as a play (only ``scrobble`` does).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from fastapi.responses import FileResponse, Response

from tonearm.api.subsonic.protocol import NOT_FOUND, SubsonicError
from tonearm.api.subsonic.registry import CORS, endpoint
from tonearm.api.subsonic.views import CONTENT_TYPES, Context
from tonearm.library.covers import CoverCache, placeholder
from tonearm.store import listening


def _file(ctx: Context) -> tuple[str, str]:
    row = ctx.song_row(ctx.params.require("id"))
    path = row.get("path") or ""
    if not os.path.isfile(path):
        raise SubsonicError(NOT_FOUND, "the song's file is gone from disk (re-run tonearm index)")
    suffix = os.path.splitext(path)[1].lower().lstrip(".")
    return path, CONTENT_TYPES.get(suffix, "application/octet-stream")


@endpoint("stream")
def stream(ctx: Context) -> Response:
    path, mime = _file(ctx)
    return FileResponse(path, media_type=mime, headers=dict(CORS))


@endpoint("download")
def download(ctx: Context) -> Response:
    path, mime = _file(ctx)
    return FileResponse(path, media_type=mime, filename=os.path.basename(path), headers=dict(CORS))


def _cover_cache(ctx: Context) -> CoverCache:
    location = ctx.store.location
    if "://" not in location:
        return CoverCache(Path(location) / ".covers")
    from tonearm.config import cache_dir

    return CoverCache(cache_dir() / "covers" / hashlib.blake2b(location.encode(), digest_size=8).hexdigest())


def cover_paths(ctx: Context, item: str) -> list[str]:
    """The files whose pictures may show ``item`` (an album, artist, song or playlist), best first."""
    cat = ctx.catalog
    if item in cat.albums:
        songs = cat.albums[item].songs
    elif item in cat.artists:
        artist = cat.artists[item]
        songs = [t for a in artist.albums for t in cat.albums[a].songs] or artist.songs
    elif item in cat.songs:
        album = cat.albums.get(cat.album_of.get(item, ""))
        songs = [item] + [t for t in (album.songs if album else []) if t != item]
    elif item.startswith("pl-"):
        songs = list((listening.playlists(ctx.store).get(item) or {}).get("entries") or [])
    else:
        songs = []
    return [cat.songs[t]["path"] for t in songs[:8] if t in cat.songs and cat.songs[t].get("path")]


@endpoint("getCoverArt")
def get_cover_art(ctx: Context) -> Response:
    """The picture of an album, artist, song or playlist; a drawn placeholder when there is none (never 70)."""
    item = ctx.params.require("id")
    size = ctx.params.integer("size", 0, low=0, high=4096)
    data, mime = _cover_cache(ctx).get(item, size or None, cover_paths(ctx, item))
    headers = dict(CORS, **{"Cache-Control": "public, max-age=3600"})
    return Response(data, media_type=mime, headers=headers)


@endpoint("getAvatar")
def get_avatar(ctx: Context) -> Response:
    return Response(placeholder("user:" + ctx.user, 128), media_type="image/png", headers=dict(CORS))
