"""What players write: stars, ratings, scrobbles (plays), now playing, playlists, the play queue.

Kept in the library (``tonearm.store.listening``, both backends), so it survives restarts and
crashes and every tonearm face sees it: a scrobble counts in ``tonearm for-you`` and in the
frequent/recent album lists; a playlist made in a player is listed by ``tonearm playlists``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tonearm.api.subsonic.protocol import MISSING_PARAMETER, NOT_FOUND, Payload, SubsonicError
from tonearm.api.subsonic.registry import endpoint
from tonearm.api.subsonic.views import Context, iso, playlist, song
from tonearm.store import listening
from tonearm.store.base import Store


def _known(ctx: Context, ids: list[str]) -> list[str]:
    cat = ctx.catalog
    missing = [i for i in ids if i not in cat.songs and i not in cat.albums and i not in cat.artists]
    if missing:
        raise SubsonicError(NOT_FOUND, f"not found: {missing[0][:40]}")
    return ids


def _star_ids(ctx: Context) -> list[str]:
    p = ctx.params
    ids = p.all("id") + p.all("albumId") + p.all("artistId")
    if not ids:
        raise SubsonicError(MISSING_PARAMETER, "required parameter is missing: id, albumId or artistId")
    return _known(ctx, ids)


@endpoint("star")
def star(ctx: Context) -> Payload:
    listening.set_starred(ctx.store, _star_ids(ctx), True)
    return None


@endpoint("unstar")
def unstar(ctx: Context) -> Payload:
    listening.set_starred(ctx.store, _star_ids(ctx), False)
    return None


@endpoint("setRating")
def set_rating(ctx: Context) -> Payload:
    item = ctx.params.require("id")
    rating = ctx.params.integer("rating", low=0, high=5)
    _known(ctx, [item])
    listening.set_rating(ctx.store, item, rating)
    return None


@endpoint("scrobble")
def scrobble(ctx: Context) -> Payload:
    """``submission=true`` (default): a finished play; ``false``: the player is playing it now."""
    p = ctx.params
    ids = p.all("id")
    if not ids:
        raise SubsonicError(MISSING_PARAMETER, "required parameter is missing: id")
    ctx.song_row(ids[0])
    times = p.all("time")
    now = time.time()
    if not p.boolean("submission", True):
        player = p.get("c") or "player"
        entry = ctx.now_playing.get(player) or {"player_id": len(ctx.now_playing) + 1}
        ctx.now_playing[player] = dict(entry, track=ids[0], at=now)
        return None
    for n, track in enumerate(ids):
        if track not in ctx.catalog.songs:
            continue
        at = now
        if n < len(times):
            try:
                at = float(times[n]) / 1000.0  # milliseconds since the epoch
            except ValueError:
                at = now
        listening.record_play(ctx.store, track, min(at, now) if at > 0 else now)
    return None


# ---- playlists ------------------------------------------------------------------------------
def _playlist(ctx: Context, pid: str) -> dict:
    value = listening.playlists(ctx.store).get(pid)
    if value is None:
        raise SubsonicError(NOT_FOUND, f"playlist not found: {pid[:40]}")
    return value


@endpoint("getPlaylists")
def get_playlists(ctx: Context) -> Payload:
    items = sorted(listening.playlists(ctx.store).items(), key=lambda kv: -(kv[1].get("changed") or 0))
    return "playlists", {"playlist": [playlist(ctx, pid, v) for pid, v in items]}


@endpoint("getPlaylist")
def get_playlist(ctx: Context) -> Payload:
    pid = ctx.params.require("id")
    return "playlist", playlist(ctx, pid, _playlist(ctx, pid), with_entries=True)


def _songs(ctx: Context, key: str) -> list[str]:
    ids = ctx.params.all(key)
    for t in ids:
        ctx.song_row(t)
    return ids


@endpoint("createPlaylist")
def create_playlist(ctx: Context) -> Payload:
    """With ``name``: a new playlist; with ``playlistId``: that playlist's songs replaced."""
    p = ctx.params
    pid = p.get("playlistId")
    now = time.time()
    if pid:
        value = _playlist(ctx, pid)
        value.update(entries=_songs(ctx, "songId"), changed=now)
        if p.get("name"):
            value["name"] = p.get("name")
        listening.save_playlist(ctx.store, pid, value)
    else:
        pid, value = listening.create_playlist(ctx.store, p.require("name"), _songs(ctx, "songId"), ctx.user)
    return "playlist", playlist(ctx, pid, value, with_entries=True)


@endpoint("updatePlaylist")
def update_playlist(ctx: Context) -> Payload:
    p = ctx.params
    pid = p.require("playlistId")
    value = _playlist(ctx, pid)
    entries = list(value.get("entries") or [])
    drop = set()
    for raw in p.all("songIndexToRemove"):
        try:
            drop.add(int(raw))
        except ValueError:
            raise SubsonicError(MISSING_PARAMETER, f"songIndexToRemove must be a number, not {raw[:20]!r}") from None
    entries = [t for i, t in enumerate(entries) if i not in drop] + _songs(ctx, "songIdToAdd")
    for key in ("name", "comment"):
        if p.get(key) is not None:
            value[key] = p.get(key)
    if p.has("public"):
        value["public"] = p.boolean("public")
    value.update(entries=entries, changed=time.time())
    listening.save_playlist(ctx.store, pid, value)
    return None


def _delete(ctx: Context, kind: str, delete: Callable[[Store, str], bool]) -> Payload:
    """Delete the ``id`` parameter's playlist or bookmark; error 70 when there is none."""
    item = ctx.params.require("id")
    if not delete(ctx.store, item):
        raise SubsonicError(NOT_FOUND, f"{kind} not found: {item[:40]}")
    return None


@endpoint("deletePlaylist")
def delete_playlist(ctx: Context) -> Payload:
    return _delete(ctx, "playlist", listening.delete_playlist)


# ---- play queue (resume on another device) -----------------------------------------------------
@endpoint("savePlayQueue")
def save_play_queue(ctx: Context) -> Payload:
    p = ctx.params
    entries = [t for t in p.all("id") if t in ctx.catalog.songs]
    value = {"entries": entries, "current": p.get("current"), "position": p.integer("position", 0, low=0),
             "changed": time.time(), "changedBy": p.get("c") or ""}  # fmt: skip
    ctx.store.put_state(listening.PLAYQUEUE, {ctx.user: value})
    return None


@endpoint("getPlayQueue")
def get_play_queue(ctx: Context) -> Payload:
    value = ctx.store.state(listening.PLAYQUEUE, [ctx.user]).get(ctx.user)
    if not value:
        return "playQueue", {"username": ctx.user, "changed": iso(time.time()), "changedBy": "", "entry": []}
    entries = [t for t in value.get("entries") or [] if t in ctx.catalog.songs]
    return "playQueue", {
        "current": value.get("current") if value.get("current") in entries else None,
        "position": value.get("position") or 0, "username": ctx.user, "changed": iso(value.get("changed")),
        "changedBy": value.get("changedBy") or "", "entry": [song(ctx, ctx.catalog.songs[t]) for t in entries],
    }  # fmt: skip


# ---- bookmarks (where a long episode or mix was left; the web app keeps the same ones) -------------
@endpoint("createBookmark")
def create_bookmark(ctx: Context) -> Payload:
    p = ctx.params
    track = p.require("id")
    ctx.song_row(track)
    position_ms = p.integer("position", low=0)
    listening.set_bookmark(ctx.store, track, position_ms / 1000.0, (p.get("comment") or "")[:500])
    return None


@endpoint("deleteBookmark")
def delete_bookmark(ctx: Context) -> Payload:
    return _delete(ctx, "bookmark", listening.delete_bookmark)


@endpoint("getBookmarks")
def get_bookmarks(ctx: Context) -> Payload:
    marks = sorted(listening.bookmarks(ctx.store).items(), key=lambda kv: -float(kv[1].get("changed") or 0))
    return "bookmarks", {"bookmark": [
        {"position": round(float(v.get("position") or 0) * 1000), "username": ctx.user,
         "comment": v.get("comment") or "", "created": iso(v.get("created")), "changed": iso(v.get("changed")),
         "entry": song(ctx, ctx.catalog.songs[t])}
        for t, v in marks if t in ctx.catalog.songs
    ]}  # fmt: skip
