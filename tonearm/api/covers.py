"""Which pictures show a library item, and where their resized copies are kept: one answer for the web app and players.

The web app (``/api/covers/{item}``) and Subsonic players (``getCoverArt``) ask for the same
albums, artists and songs, so both go through these two functions and share one disk cache.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tonearm.library.covers import CoverCache
from tonearm.search.catalog import Catalog
from tonearm.store import listening
from tonearm.store.base import Store


def cover_cache(store: Store) -> CoverCache:
    """The library's cover cache: beside an embedded library, in the user cache folder for a server URL."""
    location = store.location
    if "://" not in location:
        return CoverCache(Path(location) / ".covers")
    from tonearm.config import cache_dir

    return CoverCache(cache_dir() / "covers" / hashlib.blake2b(location.encode(), digest_size=8).hexdigest())


def cover_paths(store: Store, cat: Catalog, item: str) -> list[str]:
    """The files whose pictures may show ``item`` (an album, artist, song or playlist), best first."""
    if item in cat.albums:
        songs = cat.albums[item].songs
    elif item in cat.artists:
        artist = cat.artists[item]
        songs = [t for a in artist.albums for t in cat.albums[a].songs] or artist.songs
    elif item in cat.songs:
        album = cat.albums.get(cat.album_of.get(item, ""))
        songs = [item] + [t for t in (album.songs if album else []) if t != item]
    elif item.startswith("pl-"):
        songs = list((listening.playlists(store).get(item) or {}).get("entries") or [])
    else:
        songs = []
    return [cat.songs[t]["path"] for t in songs[:8] if t in cat.songs and cat.songs[t].get("path")]


def cover(store: Store, cat: Catalog, item: str, size: int | None) -> tuple[bytes, str]:
    """(image bytes, content type) of ``item`` at ``size`` pixels; a drawn placeholder when it has no picture."""
    return cover_cache(store).get(item, size or None, cover_paths(store, cat, item))
