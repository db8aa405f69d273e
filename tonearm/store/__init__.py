"""Storage of tracks, vectors and library bookkeeping behind one interface."""

from tonearm.store.base import CORE_FIELDS, Hit, Store, open_store, raw_column, vector_column
from tonearm.store.filters import Filter, parse_filter

__all__ = ["CORE_FIELDS", "Filter", "Hit", "Store", "open_store", "parse_filter", "raw_column", "vector_column"]
