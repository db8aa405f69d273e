"""How a file is named in a library: its track id (from its path) and its content hash (from its bytes).

Both the index job and the queries need these (a query for a file leaves out tracks with the
same bytes), so they live below both.
"""

from __future__ import annotations

import hashlib
import os

_HASH_CHUNK = 1 << 20


def track_id(path: str) -> str:
    """Stable id of the track at an absolute path (16 hex chars)."""
    return hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def content_hash(path: str | os.PathLike[str]) -> str:
    """BLAKE2b-128 of the file's bytes: identifies exact duplicates and confirms real changes."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()
