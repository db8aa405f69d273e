"""Album lists of every type, random songs, and what is playing now."""

from __future__ import annotations

import random
import time

from tonearm.api.subsonic.protocol import MISSING_PARAMETER, Payload, SubsonicError
from tonearm.api.subsonic.registry import endpoint
from tonearm.api.subsonic.views import Context, album_child, album_id3, song
from tonearm.search.catalog import Album, normalise

TYPES = ("random", "newest", "highest", "frequent", "recent", "alphabeticalByName", "alphabeticalByArtist",
         "starred", "byYear", "byGenre")  # fmt: skip


def _albums(ctx: Context) -> list[Album]:
    p = ctx.params
    kind = p.require("type")
    albums = list(ctx.catalog.albums.values())
    if kind == "random":
        return random.sample(albums, len(albums))
    if kind == "newest":
        return sorted(albums, key=lambda a: (-a.created, normalise(a.name)))
    if kind == "alphabeticalByName":
        return sorted(albums, key=lambda a: (normalise(a.name), normalise(a.artist)))
    if kind == "alphabeticalByArtist":
        return sorted(albums, key=lambda a: (normalise(a.artist), a.year or 0, normalise(a.name)))
    if kind == "frequent":
        counted = [(ctx.album_plays(a)[0], a) for a in albums]
        return [a for n, a in sorted(counted, key=lambda x: (-x[0], normalise(x[1].name))) if n > 0]
    if kind == "recent":
        played = [(ctx.album_plays(a)[1], a) for a in albums]
        return [a for last, a in sorted(played, key=lambda x: -x[0]) if last > 0]
    if kind == "starred":
        return sorted((a for a in albums if a.id in ctx.stars), key=lambda a: -ctx.stars[a.id])
    if kind == "highest":
        rated = [a for a in albums if ctx.ratings.get(a.id)]
        return sorted(rated, key=lambda a: (-ctx.ratings[a.id], normalise(a.name)))
    if kind == "byYear":
        lo, hi = p.integer("fromYear", 0), p.integer("toYear", 9999)
        ordered = sorted((a for a in albums if a.year and min(lo, hi) <= a.year <= max(lo, hi)),
                         key=lambda a: (a.year or 0, normalise(a.name)))  # fmt: skip
        return ordered[::-1] if lo > hi else ordered  # fromYear > toYear lists newest first
    if kind == "byGenre":
        want = normalise(p.require("genre"))
        return sorted((a for a in albums if any(normalise(ctx.catalog.songs[t].get("genre")) == want
                                                for t in a.songs)), key=lambda a: normalise(a.name))  # fmt: skip
    raise SubsonicError(MISSING_PARAMETER, f"unknown album list type {kind[:40]!r}; one of {', '.join(TYPES)}")


def _page(ctx: Context) -> tuple[int, int]:
    return ctx.params.integer("size", 10, low=0, high=500), ctx.params.integer("offset", 0, low=0)


@endpoint("getAlbumList")
def get_album_list(ctx: Context) -> Payload:
    size, offset = _page(ctx)
    return "albumList", {"album": [album_child(ctx, a) for a in _albums(ctx)[offset : offset + size]]}


@endpoint("getAlbumList2")
def get_album_list2(ctx: Context) -> Payload:
    size, offset = _page(ctx)
    return "albumList2", {"album": [album_id3(ctx, a) for a in _albums(ctx)[offset : offset + size]]}


@endpoint("getRandomSongs")
def get_random_songs(ctx: Context) -> Payload:
    p = ctx.params
    size = p.integer("size", 10, low=0, high=500)
    genre = normalise(p.get("genre")) if p.get("genre") else None
    lo, hi = p.integer("fromYear", 0), p.integer("toYear", 9999)
    pool = [
        r for r in ctx.catalog.songs.values()
        if (genre is None or normalise(r.get("genre")) == genre)
        and ((not p.has("fromYear") and not p.has("toYear")) or (r.get("year") and lo <= int(r["year"]) <= hi))
    ]  # fmt: skip
    picked = random.sample(pool, min(size, len(pool)))
    return "randomSongs", {"song": [song(ctx, r) for r in picked]}


@endpoint("getNowPlaying")
def get_now_playing(ctx: Context) -> Payload:
    now = time.time()
    entries = []
    for player, e in sorted(ctx.now_playing.items(), key=lambda kv: -kv[1]["at"]):
        row = ctx.catalog.songs.get(e["track"])
        if row is None or now - e["at"] > 3600:
            continue
        item = song(ctx, row)
        item.update(username=ctx.user, minutesAgo=int((now - e["at"]) // 60), playerId=e["player_id"],
                    playerName=player)  # fmt: skip
        entries.append(item)
    return "nowPlaying", {"entry": entries}
