"""Bytes: ``stream`` and ``download`` (the original file, with Range and HEAD), ``getCoverArt``, ``getAvatar``.

Streams are the original files: tonearm does not transcode, so ``maxBitRate`` and ``format``
are accepted and ignored and no ``transcodedSuffix`` is announced (clients then play the
original, which the spec allows). ``Content-Length`` is always sent, ranges are honoured
(seeking in browsers and ExoPlayer), and a stream never counts as a play (only ``scrobble`` does).
"""

from __future__ import annotations

import os

from fastapi.responses import FileResponse, Response

from tonearm.api.covers import cover
from tonearm.api.subsonic.protocol import NOT_FOUND, SubsonicError
from tonearm.api.subsonic.registry import CORS, endpoint
from tonearm.api.subsonic.views import CONTENT_TYPES, Context
from tonearm.library.covers import placeholder


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


@endpoint("getCoverArt")
def get_cover_art(ctx: Context) -> Response:
    """The picture of an album, artist, song or playlist; a drawn placeholder when there is none (never 70)."""
    item = ctx.params.require("id")
    size = ctx.params.integer("size", 0, low=0, high=4096)
    data, mime = cover(ctx.store, ctx.catalog, item, size or None)
    headers = dict(CORS, **{"Cache-Control": "public, max-age=3600"})
    return Response(data, media_type=mime, headers=headers)


@endpoint("getAvatar")
def get_avatar(ctx: Context) -> Response:
    return Response(placeholder("user:" + ctx.user, 128), media_type="image/png", headers=dict(CORS))
