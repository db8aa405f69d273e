"""Files that moved: a new path whose bytes are those of a track whose file is gone keeps that track.

Without this, moving or renaming a folder (a new disk, ``Music`` -> ``music``) made every file a new
track: analysed again (hours for a large library) under a new id, so stars, plays, playlists and play
queues that named the old id lost it. An index run pairs each new file with a *vanished* row (its
file no longer exists, inside or, for a folder library, outside the folders being indexed) of the same
size; the analysis worker hashes the file anyway, and only when the bytes prove identical does the row
move: same id, same analysis, new path. A pairing the hash refutes costs nothing: the file is analysed as a new one.

The pairing prefers, among vanished rows of the same size, one with the same file name, then one with
the same modification time (``mv`` and ``rsync -a`` keep it; ``cp`` does not), then the only one left.
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
    return pairs


def free_track_id(path: str, in_use: set[str]) -> str:
    """``track_id(path)``, unless a moved track kept that id (its file once lived at ``path``): then a
    salted one, so the new file never overwrites the moved track's row."""
    tid = track_id(path)
    n = 0
    while tid in in_use:
        n += 1
        tid = hashlib.sha1(f"{path}\0{n}".encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return tid
