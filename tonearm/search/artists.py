"""Artists by sound: each artist's centroid in the sound view, for similar artists and top songs.

An artist's centroid is the normalised mean of its songs' sound vectors. Similar artists are
the nearest centroids (cosine); an artist's top songs are its most played, then the ones
closest to its own centroid (the most typical of its sound). Centroids are computed from one
scan of the view and cached per library revision.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from tonearm.search.catalog import Catalog
from tonearm.store.base import Store, vector_column

_cache: dict[str, tuple[str, dict[str, Any]]] = {}
_lock = threading.Lock()


def _vectors(store: Store, cat: Catalog, view: str) -> dict[str, Any]:
    revision = store.revision()
    key = f"{store.location}|{view}"
    with _lock:
        hit = _cache.get(key)
        if hit and hit[0] == revision:
            return hit[1]
    col = vector_column(view)
    vecs: dict[str, np.ndarray] = {}
    if view in store.views():
        for r in store.scan(columns=["id", col]):
            if r.get(col) is not None and r["id"] in cat.songs:
                vecs[r["id"]] = np.asarray(r[col], np.float32)
    ids, centroids = [], []
    for artist in cat.artists.values():
        own = [vecs[t] for t in artist.songs if t in vecs]
        if own:
            c = np.mean(own, axis=0)
            ids.append(artist.id)
            centroids.append(c / (np.linalg.norm(c) + 1e-9))
    value = {"songs": vecs, "ids": ids, "matrix": np.array(centroids, np.float32) if centroids else None}
    with _lock:
        _cache[key] = (revision, value)
    return value


def similar_artists(
    store: Store, cat: Catalog, artist: str, k: int = 20, view: str = "sound"
) -> list[tuple[str, float]]:
    """(artist id, cosine) of the ``k`` artists whose sound is closest to ``artist``'s, best first."""
    data = _vectors(store, cat, view)
    if data["matrix"] is None or artist not in data["ids"]:
        return []
    i = data["ids"].index(artist)
    sims = data["matrix"] @ data["matrix"][i]
    order = [j for j in np.argsort(-sims) if j != i][:k]
    return [(data["ids"][j], float(sims[j])) for j in order]


def top_songs(store: Store, cat: Catalog, artist: str, plays: dict[str, tuple[int, float]], k: int = 50,
              view: str = "sound") -> list[str]:  # fmt: skip
    """The artist's songs: most played first, then the closest to the artist's own sound."""
    songs = list(cat.artists[artist].songs) if artist in cat.artists else []
    data = _vectors(store, cat, view)
    own = [data["songs"][t] for t in songs if t in data["songs"]]
    centroid = np.mean(own, axis=0) if own else None

    def closeness(t: str) -> float:
        v = data["songs"].get(t)
        return float(v @ centroid) if v is not None and centroid is not None else -2.0

    return sorted(songs, key=lambda t: (-plays.get(t, (0, 0.0))[0], -closeness(t), t))[:k]
