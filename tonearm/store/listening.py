"""What listeners do with a library, as stored state: plays, stars, ratings, playlists, the play queue.

Players write it through the Subsonic API, the web app through its own API, ``tonearm history
import`` through the library's history; recommendations (``for-you``), album lists (frequent,
recent, starred, highest) and the Subsonic responses read it. Everything is kept per key in the
store's state table (``Store.put_state``), so two processes writing different tracks never lose
each other's writes, and a crash loses at most the write in flight.

Kinds: ``plays`` (track id -> {"count", "last"}), ``star`` (item id -> {"at"}), ``rating`` (item id
-> {"rating": 1..5}), ``playlist`` (playlist id -> name, comment, public, owner, created, changed,
entries), ``playqueue`` (user -> entries, current, position, changed), ``bookmark`` (track id ->
position in seconds, comment, created, changed: where a long episode or mix was left).
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from tonearm.store.base import Store
from tonearm.store.schema import HISTORY_META

PLAYS, STAR, RATING, PLAYLIST, PLAYQUEUE, BOOKMARK = "plays", "star", "rating", "playlist", "playqueue", "bookmark"
CACHE_SECONDS = 2.0  # other processes' plays and stars show up within this

_cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()


def _cached(store: Store, kind: str) -> dict[str, Any]:
    key = (store.location, kind)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit and now - hit[0] < CACHE_SECONDS:
            return hit[1]
    value = store.state(kind)
    with _lock:
        _cache[key] = (now, value)
    return value


def _forget(store: Store, kind: str) -> None:
    with _lock:
        _cache.pop((store.location, kind), None)


def play_counts(store: Store) -> dict[str, tuple[int, float]]:
    """Per track: (plays, last play epoch), from imported history and from players' scrobbles together."""
    out: dict[str, tuple[int, float]] = {}
    for track, e in ((store.get_meta(HISTORY_META) or {}).get("tracks") or {}).items():
        out[track] = (int(e.get("plays") or 0), float(e.get("last") or 0.0))
    for track, e in _cached(store, PLAYS).items():
        n, last = out.get(track, (0, 0.0))
        out[track] = (n + int(e.get("count") or 0), max(last, float(e.get("last") or 0.0)))
    return out


def record_play(store: Store, track: str, at: float | None = None) -> None:
    """One play of ``track`` (a scrobble): its count goes up by one, its last-play time moves forward."""
    at = at or time.time()
    current = store.state(PLAYS, [track]).get(track) or {}
    store.put_state(PLAYS, {track: {"count": int(current.get("count") or 0) + 1,
                                    "last": max(float(current.get("last") or 0.0), at)}})  # fmt: skip
    _forget(store, PLAYS)


def starred(store: Store) -> dict[str, float]:
    """Starred item ids (songs, albums, artists) with when they were starred."""
    return {k: float(v.get("at") or 0.0) for k, v in _cached(store, STAR).items()}


def set_starred(store: Store, ids: list[str], on: bool) -> None:
    if not ids:
        return
    if on:
        now = time.time()
        store.put_state(STAR, {i: {"at": now} for i in ids})
    else:
        store.delete_state(STAR, ids)
    _forget(store, STAR)


def ratings(store: Store) -> dict[str, int]:
    return {k: int(v.get("rating") or 0) for k, v in _cached(store, RATING).items()}


def set_rating(store: Store, item: str, rating: int) -> None:
    """1..5 stars; 0 removes the rating."""
    if rating <= 0:
        store.delete_state(RATING, [item])
    else:
        store.put_state(RATING, {item: {"rating": min(5, int(rating))}})
    _forget(store, RATING)


def playlists(store: Store) -> dict[str, dict[str, Any]]:
    return store.state(PLAYLIST)


def save_playlist(store: Store, playlist_id: str, value: dict[str, Any]) -> None:
    store.put_state(PLAYLIST, {playlist_id: value})


def create_playlist(store: Store, name: str, entries: list[str], owner: str, comment: str = "") -> tuple[str, dict]:
    """A new playlist of track ids, saved; (its id, its value). Players and the web app share them."""
    now = time.time()
    pid = "pl-" + secrets.token_hex(8)
    value = {"name": name, "comment": comment, "public": False, "owner": owner, "created": now, "changed": now,
             "entries": list(entries)}  # fmt: skip
    save_playlist(store, pid, value)
    return pid, value


def delete_playlist(store: Store, playlist_id: str) -> bool:
    return store.delete_state(PLAYLIST, [playlist_id]) > 0


def bookmarks(store: Store) -> dict[str, dict[str, Any]]:
    """Per track: where listening stopped (``position`` in seconds), with a comment and when it was set."""
    return store.state(BOOKMARK)


def set_bookmark(store: Store, track: str, position: float, comment: str = "") -> dict[str, Any]:
    """Remember ``position`` (seconds) in ``track``; the web app and Subsonic players resume from it."""
    now = time.time()
    created = (store.state(BOOKMARK, [track]).get(track) or {}).get("created") or now
    value = {"position": round(max(0.0, float(position)), 3), "comment": comment, "created": created, "changed": now}
    store.put_state(BOOKMARK, {track: value})
    return value


def delete_bookmark(store: Store, track: str) -> bool:
    return store.delete_state(BOOKMARK, [track]) > 0
