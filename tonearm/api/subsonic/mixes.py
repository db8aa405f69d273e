"""tonearm behind the players' recommendation buttons.

* ``getSimilarSongs`` / ``getSimilarSongs2`` (Instant Mix; a song, album, artist or playlist id):
  tonearm radio from the seeds (the song; up to 5 tracks of the album or artist, most played
  first; a playlist's first 5), ``count`` songs (50, at most 500), never a seed, never a
  repeat, at most one track per artist in any 5 in a row (``tonearm radio``'s rules);
* ``getSonicSimilarTracks``: the song's nearest tracks in the sound view, ``similarity`` in 0..1
  (cosine mapped by (1 + cos) / 2: 1 = the same sound, 0 = opposite);
* ``findSonicPath``: tonearm's song path, starting with the start song and ending with the end
  song, each ``similarity`` measured against the start song (as the spec says);
* ``getTopSongs``: the artist's most played songs, then the most typical of its sound;
* ``getArtistInfo`` / ``getArtistInfo2``: similar artists = nearest artist centroids.
"""

from __future__ import annotations

import numpy as np

from tonearm.api.subsonic.protocol import NOT_FOUND, Payload, SubsonicError
from tonearm.api.subsonic.registry import endpoint
from tonearm.api.subsonic.views import Context, artist_id3, artist_legacy, song
from tonearm.search.artists import similar_artists, top_songs
from tonearm.search.catalog import normalise
from tonearm.search.radio import RadioSettings, radio, song_path
from tonearm.search.similar import similar
from tonearm.store import listening
from tonearm.store.base import vector_column

MAX_SEEDS = 5


def _seeds(ctx: Context, item: str) -> list[str]:
    cat = ctx.catalog
    if item in cat.songs:
        return [item]
    if item in cat.albums:
        songs = cat.albums[item].songs
    elif item in cat.artists:
        artist = cat.artists[item]
        songs = artist.songs or [t for a in artist.albums for t in cat.albums[a].songs]
    elif item.startswith("pl-"):
        songs = [t for t in (listening.playlists(ctx.store).get(item) or {}).get("entries") or [] if t in cat.songs]
    else:
        raise SubsonicError(NOT_FOUND, f"no song, album, artist or playlist {item[:40]}")
    if not songs:
        raise SubsonicError(NOT_FOUND, f"{item} has no songs")
    return sorted(songs, key=lambda t: (-ctx.plays.get(t, (0, 0.0))[0], songs.index(t)))[:MAX_SEEDS]


def _mix(ctx: Context) -> list[dict]:
    item = ctx.params.require("id")
    count = ctx.params.integer("count", 50, low=1, high=500)
    out = radio(ctx.store, _seeds(ctx, item), (), RadioSettings(length=count))
    return [song(ctx, ctx.catalog.songs[r["id"]]) for r in out["results"] if r["id"] in ctx.catalog.songs]


@endpoint("getSimilarSongs")
def get_similar_songs(ctx: Context) -> Payload:
    return "similarSongs", {"song": _mix(ctx)}


@endpoint("getSimilarSongs2")
def get_similar_songs2(ctx: Context) -> Payload:
    return "similarSongs2", {"song": _mix(ctx)}


def _similarity(cosine: float) -> float:
    return round(max(0.0, min(1.0, (1.0 + cosine) / 2.0)), 4)


@endpoint("getSonicSimilarTracks")
def get_sonic_similar_tracks(ctx: Context) -> Payload:
    item = ctx.params.require("id")
    ctx.song_row(item)
    count = ctx.params.integer("count", 10, low=1, high=500)
    hits = similar(ctx.store, item, k=count)["results"]
    return "sonicMatch", [{"entry": song(ctx, ctx.catalog.songs[h["id"]]), "similarity": _similarity(h["score"])}
                          for h in hits if h["id"] in ctx.catalog.songs]  # fmt: skip


@endpoint("findSonicPath")
def find_sonic_path(ctx: Context) -> Payload:
    start, end = ctx.params.require("startSongId"), ctx.params.require("endSongId")
    ctx.song_row(start), ctx.song_row(end)
    count = ctx.params.integer("count", 25, low=2, high=500)
    between = song_path(ctx.store, start, end, steps=max(1, count - 2))["results"] if start != end else []
    ids = (
        [start]
        + [r["id"] for r in between if r["id"] in ctx.catalog.songs][: count - 2]
        + ([end] if end != start else [])
    )
    col = vector_column("sound")
    vecs = {r["id"]: r.get(col) for r in ctx.store.get(ids, columns=["id", col])}
    origin = np.asarray(vecs.get(start), np.float32) if vecs.get(start) is not None else None

    def sim(t: str) -> float:
        if t == start:
            return 1.0
        if origin is None or vecs.get(t) is None:
            return -1.0  # the spec's "cannot score"
        return _similarity(float(np.asarray(vecs[t], np.float32) @ origin))

    return "sonicMatch", [{"entry": song(ctx, ctx.catalog.songs[t]), "similarity": sim(t)} for t in ids]


@endpoint("getTopSongs")
def get_top_songs(ctx: Context) -> Payload:
    cat = ctx.catalog
    count = ctx.params.integer("count", 50, low=0, high=500)
    item = ctx.params.get("id")
    if item:  # the topSongsByArtistId extension
        artist = ctx.artist(item).id
    else:
        name = normalise(ctx.params.require("artist"))
        match = [a for a in cat.artists.values() if normalise(a.name) == name]
        if not match:
            return "topSongs", {"song": []}
        artist = match[0].id
    ids = top_songs(ctx.store, cat, artist, ctx.plays, count)
    return "topSongs", {"song": [song(ctx, cat.songs[t]) for t in ids]}


def _artist_info(ctx: Context, id3: bool) -> dict:
    item = ctx.params.require("id")
    count = ctx.params.integer("count", 20, low=0, high=100)
    cat = ctx.catalog
    if item not in cat.artists:  # a folder or album id: empty info, never an error (DSub asks with those)
        item = cat.albums[item].artist_id if item in cat.albums else ""
    similar_ids = [a for a, _ in similar_artists(ctx.store, cat, item, count)] if item else []
    maker = artist_id3 if id3 else artist_legacy
    return {"biography": "", "musicBrainzId": (cat.artists[item].mbid if item in cat.artists else None) or "",
            "similarArtist": [maker(ctx, cat.artists[a]) for a in similar_ids if cat.artists[a].albums]}  # fmt: skip


@endpoint("getArtistInfo")
def get_artist_info(ctx: Context) -> Payload:
    return "artistInfo", _artist_info(ctx, id3=False)


@endpoint("getArtistInfo2")
def get_artist_info2(ctx: Context) -> Payload:
    return "artistInfo2", _artist_info(ctx, id3=True)
