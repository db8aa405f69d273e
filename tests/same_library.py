"""Whether a library that went through a fault ended where an uninterrupted run ends."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tonearm.store import open_store
from tonearm.store.copy import postings_checksum


def rows_of(lib: Path) -> dict[str, dict]:
    return {r["id"]: r for r in open_store(str(lib), create=False).scan()}


def assert_same_library(lib: Path, reference: Path) -> None:
    """Same tracks, same analysis (raw views), same tags and duplicate groups, same postings."""
    got, want = rows_of(lib), rows_of(reference)
    assert sorted(got) == sorted(want)
    for tid, row in want.items():
        for col in (c for c in row if c.startswith("raw_")):
            if row[col] is None:
                assert got[tid][col] is None, (tid, col)
            else:
                np.testing.assert_allclose(got[tid][col], row[col], rtol=1e-5, atol=1e-6, err_msg=f"{tid} {col}")
        for col in ("path", "title", "artist", "content_hash", "views_json", "dup_group", "emotions"):
            assert got[tid].get(col) == row.get(col), (tid, col)
    a = postings_checksum(open_store(str(lib), create=False))
    b = postings_checksum(open_store(str(reference), create=False))
    assert a == b
