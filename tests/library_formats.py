"""Libraries as earlier tonearm versions wrote them, made from a library this version wrote.

Kept as code rather than binary blobs: each function rewrites a current library into an older
format exactly as that release left it on disk, so the upgrade path is tested on every run. A
future format N+1 adds ``write_format_N`` here (what format N looked like), and the existing
functions stay as they are.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import lancedb

from tonearm.store.formats import FORMAT_FILE


def write_format_1(lib: Path) -> None:
    """Format 1, as written before formats were numbered (up to commit fc186b8), from its early days.

    No ``format.json``; and, as in libraries made before the duplicate pass existed (82448ea), no
    ``dup_group`` core column and no record of that pass (``ana_dup_key``), so the upgrade must add the
    column and the next index run must group duplicates from scratch.
    """
    (lib / FORMAT_FILE).unlink()
    tracks = lancedb.connect(str(lib), read_consistency_interval=timedelta(0)).open_table("tracks")
    tracks.drop_columns([c for c in ("dup_group", "ana_dup_key") if c in tracks.schema.names])


def write_format_2(lib: Path) -> None:
    """Format 2 (up to commit 96aba09): numbered, and the statistics of standardised views were z-scores
    alone, recorded without a method (every library of fewer than 64 tracks still looks like this, but
    for its number)."""
    import json

    from tonearm.store import open_store

    store = open_store(str(lib), create=False)
    for key in [k for k in ("normalizer:sound", "normalizer:melody") if store.get_meta(k)]:
        saved = store.get_meta(key)
        if saved.get("projection") is None:
            store.set_meta(key, {k: v for k, v in saved.items() if k != "method"})
    store.close()
    (lib / FORMAT_FILE).write_text(json.dumps({"format": 2, "written_by": "tonearm 0.1.0"}))


def write_format_3(lib: Path) -> None:
    """Format 3 (up to commit a99b647): a view fitted with a discriminant projection kept its search column at
    the raw dimension, the projections first and zeros after them."""
    import json

    import numpy as np

    from tonearm.analyzers.normalize import Standardizer
    from tonearm.store import open_store
    from tonearm.store.base import raw_column

    store = open_store(str(lib), create=False)
    for view, dim in store.raw_dims().items():
        saved = store.get_meta(f"normalizer:{view}")
        if not saved or saved.get("projection") is None:
            continue
        std = Standardizer.from_json(saved)

        def padded(batch: dict, std: Standardizer = std, dim: int = dim, view: str = view) -> tuple:
            raw = batch[raw_column(view)]
            keep = ~np.isnan(raw[:, 0])
            out = np.zeros((int(keep.sum()), dim), np.float32)
            out[:, : std.output_dim()] = std.apply(raw[keep])
            return keep, out

        store.rewrite_vectors(view, padded, ["id", raw_column(view)], dim=dim)
    store.close()
    (lib / FORMAT_FILE).write_text(json.dumps({"format": 3, "written_by": "tonearm 0.1.0"}))


def write_format_4(lib: Path) -> None:
    """Format 4 (up to commit 0d56659): no ReplayGain core columns, tags read by tag reader 2 (which did not
    read ReplayGain, so no row's metadata holds it)."""
    import json

    from tonearm.library.tag_recheck import TAG_READER_META
    from tonearm.store import open_store
    from tonearm.store.base import REPLAYGAIN_FIELDS

    store = open_store(str(lib), create=False)
    store.set_meta(TAG_READER_META, 2)
    rows = store.scan(columns=["id", "meta_json"])
    store.close()
    tracks = lancedb.connect(str(lib), read_consistency_interval=timedelta(0)).open_table("tracks")
    for row in rows:
        meta = json.loads(row["meta_json"] or "{}")
        if any(k in meta for k in REPLAYGAIN_FIELDS):
            kept = json.dumps({k: v for k, v in meta.items() if k not in REPLAYGAIN_FIELDS}, ensure_ascii=False)
            tracks.update(where=f"id = '{row['id']}'", values={"meta_json": kept})
    tracks.drop_columns([c for c in REPLAYGAIN_FIELDS if c in tracks.schema.names])
    (lib / FORMAT_FILE).write_text(json.dumps({"format": 4, "written_by": "tonearm 0.1.0"}))
