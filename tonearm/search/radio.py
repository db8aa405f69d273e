"""Radio, song paths and text playlists: ordered track lists that behave well.

What users of instant-mix features complain about, and what this module guarantees:
the seeds never come back; no recording appears twice (nor a copy of a seed: same bytes, or
the same recording in another file); one
artist does not dominate (at most one track per artist in any ``artist_window`` consecutive
tracks); ``--where`` filters and exclusions apply to every candidate; and the list is varied
without ``seed`` but exactly reproducible with it.

Radio ranks candidates from every view with a weight (sound, melody, words, mood) by the
weighted cosine to the seeds' mean vector, minus similarity to ``avoid`` tracks, then picks
with maximal marginal relevance (MMR): each next track is relevant to the seeds and not too
close to what is already on the list. Random variation is a small Gumbel perturbation of
the scores (``temperature``), drawn from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tonearm.errors import NotFoundError, TonearmError
from tonearm.search import dedupe
from tonearm.search.results import RESULT_FIELDS
from tonearm.search.similar import find_track
from tonearm.store.base import Store, vector_column

POOL = 300  # candidates fetched per view
DEFAULT_WEIGHTS = {"sound": 1.0, "melody": 0.25, "words": 0.25, "mood": 0.25}
_ROW_FIELDS = (*RESULT_FIELDS, "content_hash")


@dataclass(frozen=True)
class RadioSettings:
    length: int = 20
    weights: Mapping[str, float] | None = None
    where: str | None = None
    seed: int | None = None
    diversity: float = 0.3  # MMR trade-off: 0 = pure relevance, 1 = pure novelty
    artist_window: int = 5
    temperature: float = 0.02
    avoid_weight: float = 0.5


def parse_weights(spec: str | None) -> dict[str, float]:
    """``"sound=1,melody=0.5"`` -> weights (unknown views are checked against the library later)."""
    if not spec:
        return dict(DEFAULT_WEIGHTS)
    out: dict[str, float] = {}
    for part in spec.split(","):
        view, sep, value = part.strip().partition("=")
        try:
            w = float(value)
        except ValueError:
            w = -1.0
        if not sep or not view or w < 0:
            raise TonearmError(f"bad --weights entry {part!r}; expected VIEW=NUMBER >= 0, e.g. sound=1,words=0.5")
        out[view.strip()] = w
    if not any(out.values()):
        raise TonearmError("--weights: at least one view needs a weight above 0")
    return out


def _resolve(store: Store, refs: Sequence[str], views: Sequence[str]) -> list[dict[str, Any]]:
    cols = [*_ROW_FIELDS, *(vector_column(v) for v in views)]
    rows = []
    for ref in refs:
        row = find_track(store, ref, cols)
        if row is None:
            raise NotFoundError(f"{ref!r} is not a track id or an indexed path")
        rows.append(row)
    return rows


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


def _centroid(rows: list[dict[str, Any]], view: str) -> np.ndarray | None:
    vecs = [np.asarray(r[vector_column(view)], np.float32) for r in rows if r.get(vector_column(view)) is not None]
    return _unit(np.mean(vecs, axis=0)) if vecs else None


def _artist_key(row: Mapping[str, Any]) -> str | None:
    artist = (row.get("artist") or "").strip().lower()
    return artist or None


def _spaced(order: list[dict[str, Any]], cand: Mapping[str, Any], window: int) -> bool:
    key = _artist_key(cand)
    return key is None or all(_artist_key(r) != key for r in order[-(window - 1) :] if window > 1)


def radio(
    store: Store,
    seeds: Sequence[str],
    avoid: Sequence[str] = (),
    settings: RadioSettings | None = None,
    exclude: Sequence[str] = (),
    follows: Sequence[str] = (),
) -> dict[str, Any]:
    """A list of ``settings.length`` tracks that follow the seeds (see the module docstring).

    ``avoid`` tracks steer the list away from their sound and never appear; ``exclude`` ids
    (e.g. recently played) only never appear. ``follows`` are the tracks that play just before
    the list (an endless radio's queue, oldest first): artist spacing runs on across the join.
    """
    st = settings or RadioSettings()
    if not seeds:
        raise TonearmError("give at least one seed track")
    if st.length < 1:
        raise TonearmError("--length must be at least 1")
    weights = {v: w for v, w in (st.weights or DEFAULT_WEIGHTS).items() if w > 0}
    unknown = [v for v in weights if v not in store.views()]
    if unknown and st.weights is not None:
        raise TonearmError(f"the library has no {', '.join(unknown)} view; views: {', '.join(store.views())}")
    weights = {v: w for v, w in weights.items() if v in store.views()}
    seed_rows = _resolve(store, seeds, list(weights))
    avoid_rows = _resolve(store, avoid, list(weights)) if avoid else []
    targets = {v: _centroid(seed_rows, v) for v in weights}
    targets = {v: t for v, t in targets.items() if t is not None}
    if not targets:
        raise TonearmError("the seed tracks have no vectors in the chosen views yet")
    away = {v: _centroid(avoid_rows, v) for v in targets} if avoid_rows else {}
    flt = store.compile_where(st.where)
    banned_ids = [r["id"] for r in seed_rows + avoid_rows] + list(exclude)
    banned_hashes = [r["content_hash"] for r in seed_rows + avoid_rows if r.get("content_hash")]
    cols = [*_ROW_FIELDS, *(vector_column(v) for v in targets)]
    pool: dict[str, dict[str, Any]] = {}
    for view, target in targets.items():
        for hit in store.knn(view, target, max(POOL, 5 * st.length), where=flt, exclude_ids=banned_ids,
                             exclude_hashes=banned_hashes, columns=cols):  # fmt: skip
            pool.setdefault(hit.row["id"], hit.row)
    if not pool:
        return _payload("radio", seed_rows, [], st, {"avoid": [r["id"] for r in avoid_rows]})
    cands = list(pool.values())
    rel = np.zeros(len(cands))
    total = np.zeros(len(cands))
    mats: dict[str, np.ndarray] = {}
    for view, target in targets.items():
        have = np.array([c.get(vector_column(view)) is not None for c in cands])
        mat = np.zeros((len(cands), target.size), np.float32)
        if have.any():  # none of the candidates may have this view (instrumental tracks: no words)
            mat[have] = np.array([c[vector_column(view)] for c, h in zip(cands, have, strict=True) if h], np.float32)
        mats[view] = mat
        score = mat @ target
        if view in away and away[view] is not None:
            score = score - st.avoid_weight * (mat @ away[view])
        rel += weights[view] * np.where(have, score, 0.0)
        total += weights[view] * have
    rel = rel / np.maximum(total, 1e-9)
    primary = max(targets, key=lambda v: weights[v])
    sim = mats[primary] @ mats[primary].T
    rng = np.random.default_rng(st.seed)
    noisy = rel + st.temperature * rng.gumbel(size=rel.size)
    picked: list[int] = []
    before = store.get(list(follows), columns=["id", "artist"]) if follows else []
    before.sort(key=lambda r: list(follows).index(r["id"]))
    order: list[dict[str, Any]] = []
    gate = dedupe.Collapser(seed_rows + avoid_rows)
    available = np.ones(len(cands), bool)
    while len(order) < st.length and available.any():
        redundancy = sim[:, picked].max(axis=1) if picked else np.zeros(len(cands))
        mmr = (1 - st.diversity) * noisy - st.diversity * redundancy
        mmr[~available] = -np.inf
        chosen = None
        for i in np.argsort(-mmr):
            if not available[i]:
                break
            c = cands[i]
            if not gate.is_new(c):
                available[i] = False  # a copy of a seed or of a listed track
                continue
            if _spaced(before + order, c, st.artist_window):
                chosen = int(i)
                break
        if chosen is None:
            break  # only artists that played too recently are left
        available[chosen] = False
        picked.append(chosen)
        order.append(cands[chosen])
        gate.admit(cands[chosen])
    items = [_item(c, float(rel[i])) for c, i in zip(order, picked, strict=True)]
    return _payload("radio", seed_rows, items, st, {"avoid": [r["id"] for r in avoid_rows], "weights": weights})


def for_you(
    store: Store, settings: RadioSettings | None = None, recent_days: float = 30.0, seeds: int = 10
) -> dict[str, Any]:
    """Recommendations from the listening history: radio from the most-loved tracks (plays, decayed by
    age), never anything played in the last ``recent_days``."""
    from tonearm.search.taste import recently_played, taste
    from tonearm.store.schema import HISTORY_META

    loved = [t for t, _ in taste(store)]
    if not loved:
        raise TonearmError(
            "no listening history yet: run `tonearm history import FILE`, or play or like tracks (web app, players)"
        )
    recent = recently_played(store, recent_days)
    out = radio(store, loved[:seeds], (), settings, exclude=recent)
    history = store.get_meta(HISTORY_META) or {}
    out["query"].update(kind="for-you", recent_days=recent_days, excluded_recent=len(recent),
                        history_tracks=len(loved),
                        unmatched_plays=history.get("unmatched", 0))  # fmt: skip
    return out


def song_path(store: Store, start: str, end: str, steps: int = 10, view: str = "sound",
              where: str | None = None, artist_window: int = 1) -> dict[str, Any]:  # fmt: skip
    """A smooth sequence from ``start`` to ``end``: the nearest unused track to points along the line."""
    if steps < 1:
        raise TonearmError("--steps must be at least 1")
    a, b = _resolve(store, [start, end], [view])
    va, vb = a.get(vector_column(view)), b.get(vector_column(view))
    if va is None or vb is None:
        raise TonearmError(f"both tracks need a {view!r} vector")
    va, vb = np.asarray(va, np.float32), np.asarray(vb, np.float32)
    flt = store.compile_where(where)
    used_ids = [a["id"], b["id"]]
    hashes = {h for h in (a.get("content_hash"), b.get("content_hash")) if h}
    gate = dedupe.Collapser([a, b])
    order: list[dict[str, Any]] = []
    items = []
    for k in range(1, steps + 1):
        t = k / (steps + 1)
        target = _unit((1 - t) * va + t * vb)
        hits = store.knn(view, target, 20 + len(used_ids), where=flt, exclude_ids=used_ids,
                         exclude_hashes=sorted(hashes), columns=list(_ROW_FIELDS))  # fmt: skip
        hit = next((h for h in hits if gate.is_new(h.row) and _spaced(order, h.row, artist_window)), None)
        if hit is None:
            break
        used_ids.append(hit.row["id"])
        gate.admit(hit.row)
        if hit.row.get("content_hash"):
            hashes.add(hit.row["content_hash"])
        order.append(hit.row)
        item = _item(hit.row, hit.score)
        item["position"] = round(t, 3)
        items.append(item)
    info = {"kind": "path", "from": _item(a, 1.0), "to": _item(b, 1.0), "view": view, "steps": steps, "where": where}
    return {"query": info, "results": _ranked(items)}


def text_playlist(store: Store, text: str, mode: str, length: int = 20, where: str | None = None,
                  artist_window: int = 5) -> dict[str, Any]:  # fmt: skip
    """A playlist from a sentence (``mode`` = mood or words/auto): search results with artist spacing."""
    from tonearm.search.text import TextQuery, search

    found = search(store, TextQuery(text, max(100, 5 * length), where), mode)
    order: list[dict[str, Any]] = []
    gate = dedupe.Collapser()
    for r in found["results"]:
        if not gate.is_new(r) or not _spaced(order, r, artist_window):
            continue
        gate.admit(r)
        order.append(r)
        if len(order) == length:
            break
    items = [{k: v for k, v in r.items() if k != "rank"} for r in order]
    info = dict(found["query"], kind="playlist", length=length)
    return {"query": info, "results": _ranked(items)}


def _item(row: Mapping[str, Any], score: float) -> dict[str, Any]:
    out = {k: row.get(k) for k in RESULT_FIELDS}
    out["score"] = round(score, 6)
    return out


def _ranked(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for i, it in enumerate(items, 1):
        it["rank"] = i
    return items


def _payload(kind: str, seeds: list[dict[str, Any]], items: list[dict[str, Any]], st: RadioSettings,
             extra: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    info = {"kind": kind, "seeds": [_item(s, 1.0) for s in seeds], "length": st.length, "where": st.where,
            "seed": st.seed, "artist_window": st.artist_window, **extra}  # fmt: skip
    return {"query": info, "results": _ranked(items)}


# ---- export -------------------------------------------------------------------------------
def saved_playlists(store: Store) -> list[dict[str, Any]]:
    """Playlists made in players (Subsonic) or the web app: id, name, song count, changed time."""
    from tonearm.store.listening import playlists

    out = [
        {
            "id": pid,
            "name": v.get("name") or "",
            "songs": len(v.get("entries") or []),
            "changed": v.get("changed"),
            "comment": v.get("comment") or "",
        }
        for pid, v in playlists(store).items()
    ]
    return sorted(out, key=lambda p: (p["name"].lower(), p["id"]))


def saved_playlist(store: Store, ref: str) -> dict[str, Any]:
    """A saved playlist (by id, else by name) as a result list, in its order, ready to export."""
    from tonearm.store.listening import playlists

    lists = playlists(store)
    pid = ref if ref in lists else next((p for p, v in lists.items() if (v.get("name") or "") == ref), None)
    if pid is None:
        raise NotFoundError(f"no saved playlist {ref!r}; `tonearm playlists` lists them")
    value = lists[pid]
    entries = list(value.get("entries") or [])
    rows = {r["id"]: r for r in store.get(entries, columns=list(_ROW_FIELDS))}
    items = [_item(rows[t], 1.0) for t in entries if t in rows]  # tracks removed from the library drop out
    info = {"kind": "saved playlist", "id": pid, "name": value.get("name") or "", "missing": len(entries) - len(items)}
    return {"query": info, "results": _ranked(items)}


def export_playlist(payload: Mapping[str, Any], path: str) -> str:
    """Write results as M3U8, XSPF or JSON (chosen by the file extension); returns the format."""
    ext = os.path.splitext(path)[1].lower()
    items = payload["results"]
    if ext in (".m3u8", ".m3u"):
        lines = ["#EXTM3U"]
        for r in items:
            label = " - ".join(x for x in (r.get("artist"), r.get("title")) if x) or os.path.basename(r["path"])
            lines += [f"#EXTINF:{round(r.get('duration') or -1)},{label}", r["path"]]
        text, fmt = "\n".join(lines) + "\n", "m3u8"
    elif ext == ".xspf":
        from pathlib import Path
        from xml.sax.saxutils import escape

        tracks = []
        for r in items:
            parts = [f"<location>{escape(Path(r['path']).as_uri())}</location>"]
            for tag, key in (("title", "title"), ("creator", "artist"), ("album", "album")):
                if r.get(key):
                    parts.append(f"<{tag}>{escape(str(r[key]))}</{tag}>")
            if r.get("duration"):
                parts.append(f"<duration>{int(r['duration'] * 1000)}</duration>")
            tracks.append("<track>" + "".join(parts) + "</track>")
        text = ('<?xml version="1.0" encoding="UTF-8"?>\n<playlist version="1" xmlns="http://xspf.org/ns/0/">'
                f"<trackList>{''.join(tracks)}</trackList></playlist>\n")  # fmt: skip
        fmt = "xspf"
    elif ext == ".json":
        text, fmt = json.dumps(payload, ensure_ascii=False, indent=2) + "\n", "json"
    else:
        raise TonearmError(f"unknown playlist format {ext!r}: use .m3u8, .xspf or .json")
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return fmt
