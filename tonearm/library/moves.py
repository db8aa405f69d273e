"""Files that moved: a new path whose bytes are those of a track whose file is gone keeps that track.

Without this, moving or renaming a folder (a new disk, ``Music`` -> ``music``) made every file a new
track: analysed again (hours for a large library) under a new id, so stars, plays, playlists and play
queues that named the old id lost it. An index run pairs each new file with a *vanished* row (its
file no longer exists, inside or, for a folder library, outside the folders being indexed) of the same
size; the analysis worker hashes the file anyway, and only when the bytes prove identical does the row
move: same id, same analysis, new path. A pairing the hash refutes costs nothing: the file is analysed as a new one.

The pairing prefers, among vanished rows of the same size, one with the same file name, then one with
the same modification time (``mv`` and ``rsync -a`` keep it; ``cp`` does not), then the only one left.

A tagger that moves files and rewrites their tags in one go (``beet import`` with move and write,
Picard's "save and move") changes the size as well. A new file left unpaired is then matched to a
vanished row inside the folders being indexed by its audio: same file type and, by the length its
header declares, the same duration (within half a second; the nearest, when it is clearly nearer
than any other). The worker decodes it anyway and keeps the track only when the decoded audio is
the same (its digest); the tags are read afresh, and only the views that read tags are redone.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tonearm.library.scan import FileStat, track_id, under_roots


def pair_moves(
    new_files: Iterable[FileStat],
    existing: Mapping[str, Mapping[str, Any]],
    on_disk: set[str],
    roots: Sequence[str],
    outside: bool = True,
) -> dict[str, dict]:
    """New path -> the vanished row it probably is (each row claimed by one file at most).

    A row has vanished when this scan did not find it inside ``roots``, or (``outside``) when its file is
    missing from disk outside them. Those outside are looked at only when a new file has their size, so an
    ordinary run does not touch (possibly slow or unmounted) disks it was not asked to index.

    ``outside`` is for libraries one machine writes. A server library (PostgreSQL) may be indexed from
    several machines, each missing the others' files: there, a file that is merely elsewhere would be
    claimed back and forth, so only rows inside the folders being indexed count."""
    new_files = sorted(new_files, key=lambda f: f.path)
    sizes = {f.size for f in new_files}
    by_size: dict[int, list[dict]] = {}
    for path, row in existing.items():
        size = row.get("size")
        if size is None or int(size) not in sizes or not row.get("content_hash"):
            continue
        inside = under_roots(path, roots)
        if (inside and path not in on_disk) or (not inside and outside and not os.path.lexists(path)):
            by_size.setdefault(int(size), []).append(dict(row))
    pairs: dict[str, dict] = {}
    for f in new_files:
        pool = by_size.get(f.size)
        if not pool:
            continue
        name = os.path.basename(f.path)
        pick = (
            next((r for r in pool if os.path.basename(r["path"]) == name), None)
            or next((r for r in pool if r.get("mtime_ns") == f.mtime_ns), None)
            or (pool[0] if len(pool) == 1 else None)
        )
        if pick is not None:
            pool.remove(pick)
            pairs[f.path] = pick
    _pair_retagged(new_files, existing, on_disk, roots, pairs)
    return pairs


AUDIO_DIGEST = "ana_audio_hash"  # the row's digest of its decoded audio (indexer.AUDIO_HASH)
DURATION_SLACK = 0.5  # s: a header's length and the decoded one differ by an encoder's padding
CLEARLY_NEARER = 0.05  # s: the nearest candidate must beat the next by this much


def _pair_retagged(
    new_files: Sequence[FileStat],
    existing: Mapping[str, Mapping[str, Any]],
    on_disk: set[str],
    roots: Sequence[str],
    pairs: dict[str, dict],
) -> None:
    """Pair files the size rule left alone with vanished rows inside ``roots`` of the same type and duration."""
    claimed = {r["id"] for r in pairs.values()}
    vanished: dict[str, list[dict]] = {}
    for path, row in existing.items():
        if row["id"] in claimed or not row.get(AUDIO_DIGEST) or not row.get("duration"):
            continue
        if under_roots(path, roots) and path not in on_disk:
            vanished.setdefault(os.path.splitext(path)[1].lower(), []).append(dict(row))
    if not vanished:
        return
    # Every plausible (file, row) pair, then the best first over all files: the nearest length (a file
    # with the same name before it), so that another file's weaker claim cannot take a track's row.
    offers: list[tuple[bool, float, str, dict]] = []
    for f in new_files:
        pool = vanished.get(os.path.splitext(f.path)[1].lower())
        length = header_duration(f.path) if pool and f.path not in pairs else None
        if length is None:
            continue
        name = os.path.basename(f.path)
        gaps = ((abs(float(r["duration"]) - length), r) for r in pool)
        near = sorted(((d, r) for d, r in gaps if d <= DURATION_SLACK), key=lambda dr: dr[0])
        named = [(d, r) for d, r in near if os.path.basename(r["path"]) == name]
        if not named and len(near) > 1 and near[1][0] - near[0][0] < CLEARLY_NEARER:
            continue  # two tracks of nearly one length: leave it to be analysed as new
        offers += [(not named, d, f.path, r) for d, r in (named or near)]
    taken: set[str] = set()
    for _, _, path, row in sorted(offers, key=lambda o: (o[0], o[1], o[2])):
        if path not in pairs and row["id"] not in taken:
            taken.add(row["id"])
            pairs[path] = row


def header_duration(path: str) -> float | None:
    """The length a file's header declares (mutagen; no decoding), or None when it says none."""
    import mutagen

    try:
        info = getattr(mutagen.File(path), "info", None)
    except Exception:  # unreadable tags or header: the worker will say why
        return None
    length = getattr(info, "length", None)
    return float(length) if length else None


def free_track_id(path: str, in_use: set[str]) -> str:
    """``track_id(path)``, unless a moved track kept that id (its file once lived at ``path``): then a
    salted one, so the new file never overwrites the moved track's row."""
    tid = track_id(path)
    n = 0
    while tid in in_use:
        n += 1
        tid = hashlib.sha1(f"{path}\0{n}".encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return tid
