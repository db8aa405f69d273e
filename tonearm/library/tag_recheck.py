"""After tonearm learns to read more tags, read them once from files an index run would skip as unchanged.

Files whose size and mtime did not change are not opened again, so a library indexed before
tonearm read, say, comment tags would never get them. While the library's reader stamp is
older than :data:`~tonearm.library.metadata.TAG_READER`, an index run reads the tags of such
files again (about 1 ms a file) and compares them with what the row holds: a file whose tags
now say more has its metadata views redone (the words view, with its transcript reused, as for
a changed sidecar); the others are only recorded as checked. When every track of the library
is checked the stamp is written and the record dropped, and later runs read nothing extra.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from tonearm.library.metadata import TAG_READER, SidecarReader, read_tags
from tonearm.store.base import Store

log = logging.getLogger(__name__)

TAG_READER_META = "tag_reader"  # the reader version every track's tags were last read with
CHECKED_KIND = "tags_checked"  # track id -> reader version, while some tracks are not checked yet


class TagRecheck:
    """One index run's share of the check; ``columns`` are what :meth:`differs` needs of each row."""

    def __init__(self, store: Store, sidecars: SidecarReader, active: bool | None = None) -> None:
        """``active``: None to ask the library whether its tracks still need the check."""
        self.store = store
        self.sidecars = sidecars
        self.active = store.get_meta(TAG_READER_META) != TAG_READER if active is None else active
        self.done = {k for k, v in store.state(CHECKED_KIND).items() if v == TAG_READER} if self.active else set()
        self.checked: list[str] = []
        self.differing = 0

    @property
    def columns(self) -> list[str]:
        return ["meta_json"] if self.active else []

    def differs(self, row: dict[str, Any], path: str) -> frozenset[str]:
        """The tags of the file, read now, whose values the row lacks (sidecar values win: not compared)."""
        if not self.active or row["id"] in self.done:
            return frozenset()
        old = json.loads(row.get("meta_json") or "{}")
        overridden = {k.lower() for k in self.sidecars.read(path)}
        keys = frozenset(k for k, v in read_tags(path).items() if k not in overridden and old.get(k) != v)
        if keys:
            self.differing += 1
            return keys  # its job re-reads the tags; the next run finds them equal and records it
        self.checked.append(row["id"])
        return keys

    def finish(self, required: Iterable[str]) -> None:
        """Record this run's checks; stamp the library when every id in ``required`` is checked."""
        if not self.active:
            return
        if self.differing:
            log.info("read the tags of unchanged files again: %d now say more", self.differing)
        if self.checked:
            self.store.put_state(CHECKED_KIND, dict.fromkeys(self.checked, TAG_READER))
        done = self.done | set(self.checked)
        if all(i in done for i in required):
            self.store.set_meta(TAG_READER_META, TAG_READER)
            recorded = list(self.store.state(CHECKED_KIND))
            if recorded:
                self.store.delete_state(CHECKED_KIND, recorded)
