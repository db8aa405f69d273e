"""Storage of tracks, vectors and library bookkeeping behind one interface.

``open_store`` picks the backend from the location, as qdrant-client picks local or remote from
its arguments: a folder is an embedded LanceDB library, ``postgresql://...`` a PostgreSQL one.
Callers hold a :class:`~tonearm.store.base.Store` and never know which.
"""

from __future__ import annotations

from tonearm.errors import TonearmError
from tonearm.store import lance_rest_client
from tonearm.store.base import CORE_FIELDS, Hit, Store, raw_column, vector_column
from tonearm.store.filters import Filter, parse_filter

lance_rest_client.defer()  # before anything imports lancedb (its module docstring says why)

__all__ = ["CORE_FIELDS", "Filter", "Hit", "Store", "open_store", "parse_filter", "raw_column", "vector_column"]


def open_store(location: str, create: bool = True) -> Store:
    """Open the store for a library location (a folder, or a URL with a scheme)."""
    if not location.strip():
        raise TonearmError("no library location given (an empty path would mean the current folder)")
    if "://" in location:
        scheme = location.split("://", 1)[0].lower()
        if scheme in ("postgresql", "postgres"):
            from tonearm.store.postgres import PostgresStore

            return PostgresStore(location, create=create)
        raise TonearmError(f"no store backend for {scheme}:// URLs (use a folder, or postgresql://...)")
    from tonearm.store.lance import LanceStore

    return LanceStore(location, create=create)
