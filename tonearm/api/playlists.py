"""Saved playlists over HTTP, the same ones Subsonic players keep (``getPlaylists``, ``createPlaylist``).

A listener builds a queue in the web app, or a radio or a search gives a good run of tracks, and
wants it back tomorrow, on the phone's player too. So playlists live in the library's listener
state (:mod:`tonearm.store.listening`), one list of track ids each, and both faces read and write
them: a playlist saved here shows up in Symfonium, one made in Feishin opens here. Tracks that
left the library stay listed in the playlist (a file may come back) but are not returned.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from tonearm.api.deps import ConfigDep, StoreDep, Token
from tonearm.api.library import cover_url, song_item
from tonearm.search.catalog import Catalog, catalog
from tonearm.store import listening
from tonearm.store.base import Store
from tonearm.store.schema import DUP_FIELD

router = APIRouter(tags=["playlists"])
MAX_TRACKS = 10_000


class PlaylistIn(BaseModel):
    """A new playlist: its name and its tracks in order."""

    name: str = Field(min_length=1, max_length=200)
    tracks: list[str] = Field(default_factory=list, max_length=MAX_TRACKS)
    comment: str = Field(default="", max_length=2000)


class PlaylistChange(BaseModel):
    """What to change in a playlist; what is left out stays as it is."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    tracks: list[str] | None = Field(default=None, max_length=MAX_TRACKS)
    add: list[str] | None = Field(default=None, max_length=MAX_TRACKS)  # appended, after ``tracks`` if both
    comment: str | None = Field(default=None, max_length=2000)


def _summary(cat: Catalog, pid: str, value: dict[str, Any]) -> dict[str, Any]:
    present = [t for t in value.get("entries") or [] if t in cat.songs]
    return {
        "id": pid, "name": value.get("name") or "", "comment": value.get("comment") or "",
        "owner": value.get("owner"), "created": value.get("created"), "changed": value.get("changed"),
        "songs": len(present), "duration": round(sum(float(cat.songs[t].get("duration") or 0) for t in present), 1),
        "cover": cover_url(cat.album_of.get(present[0]) or present[0], 160) if present else None,
    }  # fmt: skip


def _full(s: Store, pid: str, value: dict[str, Any]) -> dict[str, Any]:
    cat = catalog(s)
    stars = listening.starred(s)
    entries = value.get("entries") or []
    tracks = [song_item(cat, t, stars) for t in entries if t in cat.songs]
    return {**_summary(cat, pid, value), "tracks": tracks, "missing": len(entries) - len(tracks)}


def _known_tracks(s: Store, ids: list[str]) -> list[str]:
    """``ids`` as the catalogue's songs: a second copy of a recording stands for its kept copy (players
    list one file per recording); an id the library does not hold is refused."""
    songs = catalog(s).songs
    others = list(dict.fromkeys(t for t in ids if t not in songs))
    keeper: dict[str, str] = {}
    if others and DUP_FIELD in s.fields():
        keeper = {r["id"]: r.get(DUP_FIELD) for r in s.get(others, columns=["id", DUP_FIELD]) if r.get(DUP_FIELD)}
    out = []
    for t in ids:
        song = t if t in songs else keeper.get(t)
        if song not in songs:
            raise HTTPException(400, f"no track {t[:40]} in the library")
        out.append(song)
    return out


def _name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name:
        raise HTTPException(400, "a playlist needs a name")
    return name


def _get(s: Store, pid: str) -> dict[str, Any]:
    value = listening.playlists(s).get(pid)
    if value is None:
        raise HTTPException(404, f"no playlist {pid[:40]}")
    return value


@router.get("/api/playlists", summary="Saved playlists (shared with Subsonic players), most recently changed first")
def all_playlists(s: StoreDep) -> dict[str, Any]:
    cat = catalog(s)
    items = sorted(listening.playlists(s).items(), key=lambda kv: -(kv[1].get("changed") or 0))
    return {"playlists": [_summary(cat, pid, v) for pid, v in items]}


@router.get("/api/playlists/{playlist_id}", summary="A playlist with its tracks in order")
def one_playlist(playlist_id: str, s: StoreDep) -> dict[str, Any]:
    return _full(s, playlist_id, _get(s, playlist_id))


@router.post("/api/playlists", status_code=201, summary="Save a new playlist", dependencies=[Token])
def new_playlist(body: PlaylistIn, s: StoreDep, config: ConfigDep) -> dict[str, Any]:
    entries = _known_tracks(s, body.tracks)
    pid, value = listening.create_playlist(s, _name(body.name), entries, config.subsonic_user, body.comment)
    return _full(s, pid, value)


@router.put(
    "/api/playlists/{playlist_id}", summary="Rename a playlist, replace its tracks or add some", dependencies=[Token]
)
def change_playlist(playlist_id: str, body: PlaylistChange, s: StoreDep) -> dict[str, Any]:
    value = _get(s, playlist_id)
    if body.tracks is not None:
        value["entries"] = _known_tracks(s, body.tracks)
    if body.add:  # kept entries stay, those no longer in the library too (their files may come back)
        value["entries"] = list(value.get("entries") or []) + _known_tracks(s, body.add)
    if len(value.get("entries") or []) > MAX_TRACKS:
        raise HTTPException(400, f"a playlist holds at most {MAX_TRACKS} tracks")
    if body.name is not None:
        value["name"] = _name(body.name)
    if body.comment is not None:
        value["comment"] = body.comment
    value["changed"] = time.time()
    listening.save_playlist(s, playlist_id, value)
    return _full(s, playlist_id, value)


@router.delete("/api/playlists/{playlist_id}", summary="Delete a playlist", dependencies=[Token])
def remove_playlist(playlist_id: str, s: StoreDep) -> dict[str, Any]:
    if not listening.delete_playlist(s, playlist_id):
        raise HTTPException(404, f"no playlist {playlist_id[:40]}")
    return {"id": playlist_id, "deleted": True}
