"""Collapsing copies of one recording in result lists.

The duplicate pass (:mod:`tonearm.library.duplicates`) gives every copy of a recording the
same ``dup_group``; files with the same bytes share a ``content_hash`` even before it runs.
Every list tonearm returns (similar, hum, text search, radio, path, playlists) keeps the
best-ranked file of each recording, and a query never returns a copy of itself or of its seeds.
Lists ask the store for :func:`overfetch` candidates so collapsing does not shorten them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tonearm.store.schema import DUP_FIELD


def overfetch(k: int) -> int:
    """How many candidates to ask the store for so that ``k`` remain after collapsing."""
    return k + max(10, k // 2)


def recording_keys(row: Mapping[str, Any]) -> set[str]:
    """Identities of the recording in ``row``: its duplicate group, its bytes, its id."""
    keys = {f"id:{row['id']}"} if row.get("id") else set()
    if row.get(DUP_FIELD):
        keys.add(f"group:{row[DUP_FIELD]}")
    if row.get("content_hash"):
        keys.add(f"bytes:{row['content_hash']}")
    return keys


class Collapser:
    """Remembers recordings already listed (or banned) and admits only new ones."""

    def __init__(self, banned: Iterable[Mapping[str, Any]] = ()) -> None:
        self.seen: set[str] = set()
        for row in banned:
            self.seen |= recording_keys(row)

    def is_new(self, row: Mapping[str, Any]) -> bool:
        return not (recording_keys(row) & self.seen)

    def admit(self, row: Mapping[str, Any]) -> bool:
        """True (and remembered) if ``row`` is a recording not listed yet."""
        keys = recording_keys(row)
        if keys & self.seen:
            return False
        self.seen |= keys
        return True


def collapse(rows: Iterable[Mapping[str, Any]], k: int | None = None, banned: Iterable[Mapping[str, Any]] = ()) -> list:
    """The first row of each recording, in order, at most ``k``."""
    gate = Collapser(banned)
    out = []
    for row in rows:
        if gate.admit(row):
            out.append(row)
            if k is not None and len(out) >= k:
                break
    return out
