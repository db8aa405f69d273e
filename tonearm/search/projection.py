"""A 2-D map of the library: the sound view projected by PCA, for the web app's library map.

PCA (two leading principal axes of the centred vectors) is deterministic, fast on 100k rows
and needs no extra dependency; nearby points on the map are tracks that sound alike along the
library's two main directions of variation (neighbours in the full view can still sit apart).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tonearm.errors import TonearmError
from tonearm.store.base import Store, vector_column

_LABEL_FIELDS = ("genre", "album", "artist")


def library_map(store: Store, view: str = "sound", color_by: str | None = None) -> dict[str, Any]:
    """Points ``{id, x, y, title, artist, label}`` with x, y in [-1, 1], and the label field used."""
    if view not in store.views():
        raise TonearmError(f"the library has no {view!r} view")
    fields = store.fields()
    if color_by is not None and color_by not in fields:
        raise TonearmError(f"unknown field {color_by!r} to colour by")
    label_field = color_by or next((f for f in _LABEL_FIELDS if f in fields), None)
    shown = ["id", "title", "artist", "path", vector_column(view)]
    cols = shown + ([label_field] if label_field and label_field not in shown else [])
    rows = [r for r in store.scan(columns=cols) if r.get(vector_column(view)) is not None]
    if not rows:
        return {"view": view, "label_field": label_field, "points": []}
    x = np.array([r[vector_column(view)] for r in rows], np.float32)
    x -= x.mean(axis=0)
    if len(rows) >= 3:
        _, _, vt = np.linalg.svd(x, full_matrices=False)
        xy = x @ vt[:2].T
    else:
        xy = np.zeros((len(rows), 2), np.float32)
    scale = np.abs(xy).max(axis=0)
    xy = xy / np.where(scale > 0, scale, 1.0)
    points = []
    for r, (px, py) in zip(rows, xy, strict=True):
        label = r.get(label_field) if label_field else None
        points.append({"id": r["id"], "x": round(float(px), 4), "y": round(float(py), 4),
                       "title": r.get("title") or r["path"].rsplit("/", 1)[-1], "artist": r.get("artist"),
                       "label": None if label is None else str(label)})  # fmt: skip
    return {"view": view, "label_field": label_field, "points": points}
