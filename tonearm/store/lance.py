"""LanceDB backend: the embedded default store.

Why LanceDB: it is the embedded engine that stays correct with several processes (an index
run writing while a query or the web server reads), keeps several vector columns per row,
pre-filters k-NN with SQL predicates, and commits atomically (a ``kill -9`` leaves the last
committed version intact). See ``../shared/research/engines.md`` for the measurements.

Layout of a library folder: ``tracks.lance``, ``failures.lance`` and ``meta.lance`` tables,
plus ``.write.lock`` (held by index runs).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.index import Bitmap, BTree, IvfFlat, IvfSq

from tonearm import failpoints
from tonearm.errors import (
    LibraryLockedError,
    LibraryVersionError,
    NotFoundError,
    ReadOnlyError,
    TonearmError,
    storage_fault,
)
from tonearm.store.base import (
    CORE_FIELDS,
    INTEGER_FIELDS,
    INTERNAL_FIELDS,
    FieldValues,
    Hit,
    Store,
    VectorDeriver,
    derived,
    raw_column,
    vector_column,
)
from tonearm.store.files import fsync_write, is_temporary
from tonearm.store.filters import (
    And,
    Between,
    Compare,
    FieldType,
    Filter,
    InList,
    IsNull,
    Like,
    Not,
    Or,
    Value,
)
from tonearm.store.formats import FORMAT_FILE, FORMAT_VERSION, pending

log = logging.getLogger(__name__)

_TRACKS, _FAILURES, _META, _STATE = "tracks", "failures", "meta", "state"
# Below this many searchable rows a view is searched exactly (a flat scan is fast enough and exact);
# from it on, an IVF index with scalar-quantised vectors, rebuilt when the view doubles or was
# built as another type (new rows in between are merged into it by optimize(), or scanned exactly
# until then). IVF_SQ rather than IVF_HNSW_SQ (bench/bench_scale.py at 1M x 889-d, bench/results/):
# the graph answered unfiltered queries faster (p95 13-49 ms against 30) but took 31 min to build
# against 72 s, twice the memory, and 100 ms against 31 for a 5% filter.
# Short search vectors (a projected view's 32 numbers) get IVF_FLAT instead: the partitions hold the vectors
# themselves, so distances are exact and no re-rank is needed (bench/bench_scale.py at 1M, a 32-d search column,
# one session: unfiltered p95 14 ms at recall 0.993 against 28 ms at 0.996 for IVF_SQ with its re-rank, which
# alone cost 1.6-3.9 ms a query; the index holds 128 MB of vectors).
ANN_INDEX = "IVF_SQ"  # the IvfSq config below
ANN_FLAT_INDEX = "IVF_FLAT"
ANN_FLAT_MAX_DIM = 64
ANN_MIN_ROWS = 50_000
ANN_REBUILD_GROWTH = 2.0
# Index shape and query breadth, chosen with bench/bench_scale.py at 1M x 889-d (bench/results/):
# sqrt(rows)/2 partitions (500 at 1M), a quarter of them probed (recall@10 0.98), the best 4k
# candidates re-ranked on the full vectors (true cosine scores). A filtered search probes up to
# twice as many: its k best rows sit deeper in the unfiltered ranking (5% filter: 0.94 -> 0.99).
ANN_PARTITIONS_PER_SQRT_ROW = 0.5
ANN_PROBE_SHARE = 0.24
# ...but never fewer than 60: a quarter of a smaller index's partitions missed neighbours (100k rows, 158
# partitions, 38 probes: recall@10 0.964 at 32-d, 0.935 at 889-d; 60 probes: 0.993 at 32-d, p95 under 10 ms).
ANN_MIN_PROBES = 60
ANN_FILTER_WIDEN = 2.0
ANN_REFINE = 4
# Extra results asked for when a search excludes content hashes (copies of the query): a track rarely
# has more copies than this; when it has, the search is asked again with the exclusion as a filter.
KNN_HASH_MARGIN = 8
# Scalar indexes built from ANN_MIN_ROWS on: exact lookups (id, path, content hash) and the
# fields people filter by. BITMAP where a column has few distinct values, BTREE otherwise.
SCALAR_INDEXES = {
    "id": BTree, "path": BTree, "content_hash": BTree, "genre": Bitmap, "year": BTree,
    "artist": BTree, "albumartist": BTree, "album": BTree,
}  # fmt: skip


def ann_partitions(rows: int) -> int:
    """IVF partitions for a view of ``rows`` vectors (grows like sqrt: each one grows too)."""
    return max(1, round(ANN_PARTITIONS_PER_SQRT_ROW * math.sqrt(rows)))


def ann_index_type(dim: int) -> str:
    """The ANN index a view's search vectors of ``dim`` numbers get."""
    return ANN_FLAT_INDEX if dim <= ANN_FLAT_MAX_DIM else ANN_INDEX


def ann_probes(partitions: int | None, selectivity: float = 1.0) -> int:
    """Partitions a query probes: a fixed share, widened for filtered queries (see above)."""
    if not partitions:  # an index from before partitions were recorded (rebuilt by the next optimize)
        return 40
    widen = min(ANN_FILTER_WIDEN, 1.0 / max(selectivity, 1e-9))
    return min(partitions, math.ceil(max(ANN_MIN_PROBES, ANN_PROBE_SHARE * partitions) * widen))


def _column_values(col: pa.Array) -> Any:
    """A column of a batch as ``Store.scan_batches`` gives it (vectors: one array, NaN rows for nulls)."""
    if not pa.types.is_fixed_size_list(col.type):
        return col.to_pylist()
    arr = np.full((len(col), col.type.list_size), np.nan, np.float32)
    valid = col.is_valid().to_numpy(zero_copy_only=False)
    if valid.any():
        arr[valid] = col.drop_null().flatten().to_numpy(zero_copy_only=False).reshape(-1, col.type.list_size)
    return arr


def _with_rows(col: pa.Array, keep: np.ndarray, vectors: np.ndarray) -> pa.Array:
    """``col`` (a vector column of one batch) with the ``keep`` rows replaced by ``vectors``."""
    values = _column_values(col)
    values[keep] = vectors
    valid = col.is_valid().to_numpy(zero_copy_only=False) | keep
    flat = pa.array(np.nan_to_num(values, nan=0.0).ravel(), pa.float32())
    return pa.FixedSizeListArray.from_arrays(flat, type=col.type, mask=pa.array(~valid))


def _with_values(col: pa.Array, keep: np.ndarray, values: Sequence[Any]) -> pa.Array:
    """``col`` (a scalar column of one batch) with the ``keep`` rows replaced by ``values``, in order."""
    out = col.to_pylist()
    for i, value in zip(np.flatnonzero(keep), values, strict=True):
        out[i] = value
    return pa.array(out, type=col.type)


def _vector_rows(vec_type: pa.DataType, keep: np.ndarray, vectors: np.ndarray) -> pa.Array:
    """A vector column of ``len(keep)`` rows: ``vectors`` at the ``keep`` rows, NULL elsewhere."""
    values = np.zeros((len(keep), vec_type.list_size), np.float32)
    values[keep] = vectors
    flat = pa.array(values.ravel(), pa.float32())
    return pa.FixedSizeListArray.from_arrays(flat, type=vec_type, mask=pa.array(~keep))


def _arrow_type(name: str, ftype: FieldType) -> pa.DataType:
    if ftype == "string":
        return pa.string()
    if ftype == "bool":
        return pa.bool_()
    return pa.int64() if name in INTEGER_FIELDS else pa.float64()


def _field_type(dtype: pa.DataType) -> FieldType | None:
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "string"
    if pa.types.is_boolean(dtype):
        return "bool"
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype):
        return "number"
    return None


def _tracks_schema() -> pa.Schema:
    fields = [pa.field("id", pa.string(), nullable=False)]
    fields += [pa.field(n, _arrow_type(n, t)) for n, t in CORE_FIELDS.items() if n != "id"]
    fields += [pa.field(n, pa.string()) for n in INTERNAL_FIELDS]
    return pa.schema(fields)


# ---- filter compilation -----------------------------------------------------------------
def _ident(name: str) -> str:
    return f"`{name}`"


def _lit(value: Value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        if not np.isfinite(value):
            raise TonearmError(f"non-finite number {value!r} in filter")
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def to_sql(node: Filter) -> str:
    """Compile a validated filter tree to LanceDB's SQL dialect (values quoted, names escaped)."""
    if isinstance(node, And):
        return "(" + " AND ".join(to_sql(i) for i in node.items) + ")"
    if isinstance(node, Or):
        return "(" + " OR ".join(to_sql(i) for i in node.items) + ")"
    if isinstance(node, Not):
        return f"(NOT {to_sql(node.item)})"
    col = _ident(node.field)
    neg = "NOT " if getattr(node, "negate", False) else ""
    if isinstance(node, Compare):
        return f"({col} {'<>' if node.op == '!=' else node.op} {_lit(node.value)})"
    if isinstance(node, InList):
        return f"({col} {neg}IN ({', '.join(_lit(v) for v in node.values)}))"
    if isinstance(node, Like):
        op = "ILIKE" if node.case_insensitive else "LIKE"
        return f"({col} {neg}{op} {_lit(node.pattern)})"
    if isinstance(node, Between):
        return f"({col} {neg}BETWEEN {_lit(node.low)} AND {_lit(node.high)})"
    if isinstance(node, IsNull):
        return f"({col} IS {'NOT ' if node.negate else ''}NULL)"
    raise TypeError(f"unknown filter node {node!r}")


def _and(*parts: str | None) -> str | None:
    kept = [p for p in parts if p]
    return " AND ".join(kept) if kept else None


# Default bound of LanceDB's metadata cache per process ($TONEARM_LANCE_METADATA_CACHE_MB). 16 MiB: at 1M
# tracks (bench/bench_scale.py, two runs each, one session) queries took the same time and memory at 16 as
# at 64 MiB (p95 unfiltered 62/60 against 64/53 ms, with a 5% filter 46/41 against 52/45 ms; 1.07 GB peak).
METADATA_CACHE_MB = 16


@functools.cache
def _session() -> lancedb.Session:
    """One LanceDB session per process, its metadata cache bounded.

    Every commit is a new table version, and a reader that follows the latest commit (interval 0, as
    every store here does) caches each version's manifest and file metadata. With LanceDB's default
    session, a process that commits track by track, or a server that reads while an index run commits,
    grows with every commit: measured here, 400 one-row upserts took the process from 350 to
    510 MiB with the cache at 146 MiB, against 349 to 378 MiB with it capped at 16 MiB (the index cache,
    left at its default, did not grow). A superseded version's metadata is not read again; a full cache
    evicts entries instead of growing."""
    mb = METADATA_CACHE_MB
    with contextlib.suppress(ValueError):
        mb = max(1, int(os.environ.get("TONEARM_LANCE_METADATA_CACHE_MB", mb)))
    return lancedb.Session(metadata_cache_size_bytes=mb << 20)


class LanceStore(Store):
    """A library folder holding LanceDB tables."""

    def __init__(self, location: str, create: bool = True) -> None:
        self.location = str(Path(location))
        try:
            self._open(create)
        except TonearmError:
            raise
        except Exception as exc:  # a full or read-only disk while creating or upgrading the library
            fault = storage_fault(exc, self.location)
            if fault is None:
                raise
            raise fault from None

    def _open(self, create: bool) -> None:
        path = Path(self.location)
        if path.exists() and not path.is_dir():
            raise TonearmError(f"library location {self.location} is a file, not a folder")
        exists = path.exists() and any(path.glob(f"{_TRACKS}.lance"))
        if not exists:
            if not create:
                raise NotFoundError(f"no library at {self.location} (run `tonearm index PATH` first)")
            try:
                path.mkdir(parents=True, exist_ok=True)
            except (NotADirectoryError, FileExistsError):  # a file where a parent folder should be
                message = f"cannot make the library folder {self.location}: part of its path is a file"
                raise TonearmError(message) from None
        # Interval 0: every read sees the latest commit, even one made by another process.
        self._db = lancedb.connect(self.location, read_consistency_interval=timedelta(0), session=_session())
        found = self._stored_format() if exists else None
        if found is not None and found > FORMAT_VERSION:  # refused before anything is written
            raise LibraryVersionError(
                f"library {self.location} was written by a newer tonearm (format {found}; this one reads up to "
                f"{FORMAT_VERSION}): upgrade tonearm (pip install -U tonearm) to open it"
            )
        self._tracks = self._open_or_create(_TRACKS, _tracks_schema())
        # When the ANN indexes were last listed, and each indexed view's partitions and index type.
        self._ann_checked: tuple[float, dict[str, int], dict[str, str | None]] | None = None
        self._selectivity_cache: dict[str, tuple[float, float]] = {}
        # Meta values as stored (JSON text) by key, valid for the meta table's version in the first item.
        self._meta_cache: tuple[int, dict[str, str | None]] = (-1, {})
        self._failures = self._open_or_create(
            _FAILURES,
            pa.schema(
                [
                    pa.field("path", pa.string(), nullable=False),
                    pa.field("reason", pa.string()),
                    pa.field("size", pa.int64()),
                    pa.field("mtime_ns", pa.int64()),
                    pa.field("failed_at", pa.float64()),
                ]
            ),
        )
        self._meta = self._open_or_create(
            _META, pa.schema([pa.field("key", pa.string(), nullable=False), pa.field("value", pa.string())])
        )
        self._state_table = None  # opened on first use: most commands never touch listener state
        self._postings_index = None  # the landmarks/ folder, opened on first use
        if found is None:
            self._record_format()
        elif found < FORMAT_VERSION:
            self._upgrade(found)

    def _stored_format(self) -> int:
        """The format number of an existing library (1: written before formats were numbered)."""
        path = Path(self.location) / FORMAT_FILE
        try:
            return int(json.loads(path.read_text())["format"])
        except FileNotFoundError:
            return 1
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TonearmError(f"library {self.location} has an unreadable {FORMAT_FILE}: {exc}") from None

    def _record_format(self) -> None:
        from tonearm import __version__

        data = json.dumps({"format": FORMAT_VERSION, "written_by": f"tonearm {__version__}"}).encode()
        fsync_write(Path(self.location) / FORMAT_FILE, data)

    def format_version(self) -> int:
        """The format this library is stored in (``FORMAT_VERSION`` once opened by this tonearm)."""
        return self._stored_format()

    def _upgrade(self, found: int) -> None:
        """Apply the migrations a library of format ``found`` lacks; record the number after the last."""
        try:
            for step in pending(found):
                step.apply(self)
                log.info("library %s: applied format migration %d (%s)", self.location, step.version, step.summary)
            self._record_format()
        except Exception as exc:
            if isinstance(storage_fault(exc), ReadOnlyError):
                raise ReadOnlyError(
                    f"library {self.location} was written by an older tonearm (format {found}) and must be "
                    f"upgraded to format {FORMAT_VERSION} once, on a writable disk: run any tonearm command on it there"
                ) from None
            raise

    @property
    def _state(self):
        if self._state_table is None:
            self._state_table = self._open_or_create(
                _STATE,
                pa.schema(
                    [
                        pa.field("kind", pa.string(), nullable=False),
                        pa.field("key", pa.string(), nullable=False),
                        pa.field("value", pa.string()),
                        pa.field("updated_at", pa.float64()),
                    ]
                ),
            )
        return self._state_table

    def _state_if_any(self):
        """The state table for reading, or None when no listener state was ever written (nothing to create)."""
        if self._state_table is None:
            try:
                self._state_table = self._db.open_table(_STATE)
            except (ValueError, FileNotFoundError):
                return None
        return self._state_table

    def add_missing_core_columns(self) -> None:
        """Add the core columns a library made by an older version lacks (as NULLs); idempotent."""
        names = set(self._schema().names)
        missing = {n: t for n, t in CORE_FIELDS.items() if n not in names}
        if not missing:
            return
        try:
            self.ensure_fields(missing)
        except Exception:  # another process added them at the same moment
            self._tracks.checkout_latest()
            if any(n not in self._schema().names for n in missing):
                raise

    def _open_or_create(self, name: str, schema: pa.Schema):
        try:
            return self._db.open_table(name)
        except (ValueError, FileNotFoundError):
            return self._db.create_table(name, schema=schema, exist_ok=True)

    # ---- schema -------------------------------------------------------------------------
    def _schema(self) -> pa.Schema:
        return self._tracks.schema

    def _vector_dims(self, prefix: str) -> dict[str, int]:
        out = {}
        for f in self._schema():
            if f.name.startswith(prefix) and pa.types.is_fixed_size_list(f.type):
                out[f.name[len(prefix) :]] = f.type.list_size
        return out

    def ensure_view(self, view: str, dim: int, search_dim: int | None = None) -> None:
        if self._has_view(view, dim):
            return
        vec_type = pa.list_(pa.float32(), search_dim or dim)
        raw_type = pa.list_(pa.float32(), dim)
        self._tracks.add_columns([pa.field(vector_column(view), vec_type), pa.field(raw_column(view), raw_type)])

    def drop_view(self, view: str) -> None:
        """Remove a view's columns (used when its analyzer changes dimension)."""
        cols = [c for c in (vector_column(view), raw_column(view)) if c in self._schema().names]
        if cols:
            self._tracks.drop_columns(cols)

    def fields(self) -> dict[str, FieldType]:
        out: dict[str, FieldType] = {}
        for f in self._schema():
            if f.name in INTERNAL_FIELDS or f.name.startswith(("vec_", "raw_", "ana_")):
                continue
            t = _field_type(f.type)
            if t:
                out[f.name] = t
        return out

    def ensure_fields(self, fields: Mapping[str, FieldType]) -> None:
        """Add columns for custom metadata, or for analyzers' ``ana_*`` extra fields."""
        names = set(self._schema().names)
        new = [pa.field(n, _arrow_type(n, t)) for n, t in fields.items() if n not in names]
        if new:
            self._tracks.add_columns(new)

    # ---- rows ---------------------------------------------------------------------------
    def _table_from_rows(self, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
        schema = self._schema()
        cols: dict[str, list] = {f.name: [] for f in schema}
        for row in rows:
            for name in cols:
                value = row.get(name)
                if isinstance(value, np.ndarray):
                    value = value.astype(np.float32).tolist()
                cols[name].append(value)
        return pa.Table.from_pydict(cols, schema=schema)

    def upsert(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        data = self._table_from_rows(rows)
        # Views not analysed yet are NULL vectors, which LanceDB must keep as NULL (not reject).
        self._tracks.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(
            data, on_bad_vectors="null"
        )

    def delete(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        total = 0
        for i in range(0, len(ids), 500):
            cond = to_sql(InList("id", tuple(ids[i : i + 500])))
            n = self._tracks.count_rows(cond)
            if n:
                self._tracks.delete(cond)
            total += n
        return total

    def keep_one_copy(self, ids: Sequence[str], choose: Callable[[list[dict[str, Any]]], dict[str, Any]]) -> int:
        """Copies that share an id (a non-atomic writer's leftovers) deleted by row address, in one
        commit: the chosen copy is never out of the table, whenever the process dies."""
        drop: list[int] = []
        for i in range(0, len(ids), 500):
            cond = to_sql(InList("id", tuple(ids[i : i + 500])))
            rows = self._tracks.search().where(cond).with_row_id(True).limit(None).to_arrow().to_pylist()
            by_id: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                by_id.setdefault(row["id"], []).append(row)
            for copies in by_id.values():
                keep = choose(copies)
                drop += [int(r["_rowid"]) for r in copies if r is not keep]
        if drop:
            with failpoints.during("keep_one_copy"):
                self._tracks.delete(f"_rowid IN ({', '.join(map(str, drop))})")
        return len(drop)

    def _query(self, where: str | None, columns: Sequence[str] | None, limit: int | None) -> list[dict]:
        q = self._tracks.search()
        if where:
            q = q.where(where)
        if columns:
            q = q.select(list(columns))
        return q.limit(limit).to_arrow().to_pylist()

    def get(self, ids: Sequence[str], columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i in range(0, len(ids), 500):
            chunk = tuple(ids[i : i + 500])
            out += self._query(to_sql(InList("id", chunk)), columns, len(chunk))
        return out

    def scan(
        self,
        where: Filter | None = None,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        if limit is not None:
            yield from self._query(to_sql(where) if where else None, columns, limit)
            return
        for batch in self._batches(where, columns, 1024):  # streamed: a scan of a big library stays small
            yield from batch.to_pylist()

    def _batches(self, where: Filter | None, columns: Sequence[str] | None, batch_rows: int):
        # Reads one table version (the one current when the scan starts), whatever is written meanwhile.
        q = self._tracks.search()
        if where:
            q = q.where(to_sql(where))
        if columns:
            q = q.select(list(columns))
        return q.to_batches(batch_rows)

    def scan_batches(
        self, columns: Sequence[str], where: Filter | None = None, batch_rows: int = 4096
    ) -> Iterator[dict[str, Any]]:
        for batch in self._batches(where, columns, batch_rows):
            yield {name: _column_values(batch.column(name)) for name in columns}

    def rewrite_vectors(
        self,
        view: str,
        derive: VectorDeriver,
        columns: Sequence[str],
        batch_rows: int = 4096,
        dim: int | None = None,
    ) -> int:
        # The whole table is streamed into one new version (one commit, memory of one batch): per-batch
        # merges would each join against the whole table. Indexes do not survive the rewrite; they are
        # built again at once (their vectors changed anyway). A new dimension is a new column type in
        # the same commit: readers see the old vectors or the new ones, never a mix.
        old = self._schema()
        col = vector_column(view)
        at = old.get_field_index(col)
        reshape = dim is not None and dim != old.field(col).type.list_size
        schema = old.set(at, pa.field(col, pa.list_(pa.float32(), dim))) if reshape else old
        written = 0
        stopped: list[BaseException] = []

        def batches() -> Iterator[pa.RecordBatch]:
            nonlocal written
            try:
                for batch in self._tracks.search().to_batches(batch_rows):
                    batch = batch.select(schema.names)
                    given = {name: _column_values(batch.column(name)) for name in columns}
                    keep, vectors, fields = derived(derive(given))
                    keep = np.asarray(keep, bool)
                    if reshape:
                        new = _vector_rows(schema.field(col).type, keep, vectors)
                        batch = batch.set_column(at, schema.field(col), new)
                    elif np.any(keep):
                        batch = batch.set_column(at, schema.field(col), _with_rows(batch.column(col), keep, vectors))
                    for name, values in fields.items():
                        i = schema.get_field_index(name)
                        batch = batch.set_column(i, schema.field(name), _with_values(batch.column(name), keep, values))
                    written += int(np.count_nonzero(keep))
                    yield batch
            except BaseException as exc:  # LanceDB would hand it back as an Arrow error: keep the original
                stopped.append(exc)
                raise

        reader = pa.RecordBatchReader.from_batches(schema, batches())
        try:
            # on_bad_vectors: LanceDB counts a null vector (a view not computed for a row) as malformed.
            self._tracks = self._db.create_table(_TRACKS, reader, mode="overwrite", on_bad_vectors="null")
        except Exception:
            if stopped:  # Ctrl-C, a refit's own error: nothing was committed; say what really stopped it
                raise stopped[0] from None
            raise
        self._ann_checked = None
        self.optimize_indexes()
        return written

    def set_vectors(
        self, view: str, ids: Sequence[str], vectors: np.ndarray, fields: FieldValues | None = None
    ) -> None:
        # Whole rows are written again (a delete and an append): only they leave the ANN index until
        # the next optimize. A column-only merge would rewrite the column of every fragment it
        # touches, and a compacted library is a few big fragments: all of it would be searched flat.
        col = vector_column(view)
        by_id = dict(zip(ids, np.asarray(vectors, dtype=np.float32), strict=True))
        extra = {name: dict(zip(ids, values, strict=True)) for name, values in (fields or {}).items()}
        keys = list(by_id)
        for i in range(0, len(keys), 500):
            rows = self.get(keys[i : i + 500])  # ids deleted meanwhile are not written back
            for row in rows:
                row[col] = by_id[row["id"]]
                row.update({name: values[row["id"]] for name, values in extra.items()})
            self.upsert(rows)

    def count(self, where: Filter | None = None) -> int:
        return int(self._tracks.count_rows(to_sql(where) if where else None))

    def _search(self, view: str, vectors: np.ndarray, k: int, where: str | None = None):
        """A LanceDB vector query with our settings (``where``: the user's filter, to size the probe)."""
        q = self._tracks.search(vectors, vector_column_name=vector_column(view)).metric("cosine").limit(k)
        partitions = self._ann_partitions(view)
        if partitions is not None:
            selectivity = self._selectivity(where) if where else 1.0
            q = q.nprobes(ann_probes(partitions, selectivity))
            if self._ann_checked is not None and self._ann_checked[2].get(view) != ANN_FLAT_INDEX:
                q = q.refine_factor(ANN_REFINE)  # quantised candidates re-ranked exactly: recall, and true scores
        return q

    def _selectivity(self, where: str) -> float:
        """Share of rows a filter keeps (counted through the scalar indexes; remembered for 30 s)."""
        now = time.monotonic()
        hit = self._selectivity_cache.get(where)
        if hit is None or now - hit[0] > 30.0:
            if len(self._selectivity_cache) > 256:
                self._selectivity_cache.clear()
            total = max(1, self._tracks.count_rows())
            hit = (now, self._tracks.count_rows(where) / total)
            self._selectivity_cache[where] = hit
        return hit[1]

    def knn_batch(self, view: str, vectors: np.ndarray, k: int) -> list[list[Hit]]:
        self._check_view(view, vectors)
        out: list[list[Hit]] = [[] for _ in range(len(vectors))]
        if len(vectors) == 0 or k <= 0:
            return out
        vecs = np.asarray(vectors, dtype=np.float32)
        rows = self._search(view, vecs, k).select(["id", "_distance"]).to_arrow().to_pylist()
        for row in rows:  # one query for all vectors; rows name their query by index
            out[row.get("query_index", 0)].append(Hit({"id": row["id"]}, 1.0 - row["_distance"]))
        for hits in out:
            hits.sort(key=lambda h: -h.score)
        return out

    def _knn(
        self,
        view: str,
        vector: np.ndarray,
        k: int,
        where: Filter | None,
        exclude_ids: Sequence[str],
        exclude_hashes: Sequence[str],
        columns: Sequence[str] | None,
    ) -> list[Hit]:
        # The exclusions (a query track itself, its copies) are dropped from a few extra results rather
        # than filtered before the search. As a pre-filter they cost as much where rows carry content hashes
        # (their scalar index answers), but where rows have none, `content_hash IS NULL OR ...` is evaluated
        # on every row: 1M tracks, p95 79-91 ms against 14-16 (bench/knn_exclusions.py). Only when they take
        # so many that fewer than k rows are left is the search asked again with them as a filter.
        cols = (
            list(columns)
            if columns
            else [c for c in self._schema().names if not c.startswith(("vec_", "raw_", "ana_"))]
        )
        ids, hashes = set(exclude_ids), {h for h in exclude_hashes if h is not None}
        read = [*cols, *(c for c in ("id", "content_hash") if c not in cols and (c != "content_hash" or hashes))]
        fetch = k + len(ids) + (KNN_HASH_MARGIN if hashes else 0)
        rows = self._knn_rows(view, vector, fetch, where, None, read)
        kept = [r for r in rows if r["id"] not in ids and r.get("content_hash") not in hashes]
        if len(kept) < k and len(rows) == fetch and (ids or hashes):
            cond = _and(
                to_sql(InList("id", tuple(ids), negate=True)) if ids else None,
                # NULL hashes must survive the exclusion (NULL NOT IN (...) is NULL, i.e. false).
                f"(content_hash IS NULL OR {to_sql(InList('content_hash', tuple(hashes), negate=True))})"
                if hashes
                else None,
            )
            kept = self._knn_rows(view, vector, k, where, cond, read)
        hits = []
        for row in kept[:k]:
            dist = row.pop("_distance", None)
            for extra in read[len(cols) :]:
                row.pop(extra, None)
            hits.append(Hit(row, float(1.0 - dist) if dist is not None else float("nan")))
        return hits

    def _knn_rows(
        self, view: str, vector: np.ndarray, k: int, where: Filter | None, also: str | None, cols: list[str]
    ) -> list[dict[str, Any]]:
        """One vector search: ``where`` (and the SQL ``also``) filter before ranking."""
        cond = _and(to_sql(where) if where else None, also)
        q = self._search(view, np.asarray(vector, dtype=np.float32), k, to_sql(where) if where else None)
        if cond:
            q = q.where(cond, prefilter=True)
        return q.select([*cols, "_distance"]).to_arrow().to_pylist()

    def revision(self) -> str:
        return str(self._tracks.version)  # a new table version per commit; reads see other processes' commits

    def columns(self) -> dict[str, str]:
        out = {}
        for f in self._schema():
            if pa.types.is_fixed_size_list(f.type):
                out[f.name] = f"vector({f.type.list_size})"
            else:
                out[f.name] = _field_type(f.type) or "string"
        return out

    # ---- bookkeeping --------------------------------------------------------------------
    def meta_keys(self) -> list[str]:
        return sorted(r["key"] for r in self._meta.search().select(["key"]).limit(None).to_arrow().to_pylist())

    def get_meta(self, key: str) -> Any | None:
        # Remembered for the table version it was read at: a query reads the library's statistics each
        # time, and a version check (another process's commit included) costs 0.3 ms against 7 for the
        # read (1M-track library). Parsed anew each time, so callers may change what they get.
        version = self._meta.version
        if self._meta_cache[0] != version:
            self._meta_cache = (version, {})
        known = self._meta_cache[1]
        if key not in known:
            rows = self._meta.search().where(to_sql(Compare("key", "=", key))).limit(1).to_arrow().to_pylist()
            known[key] = rows[0]["value"] if rows else None
        text = known[key]
        return json.loads(text) if text is not None else None

    def set_meta(self, key: str, value: Any) -> None:
        data = pa.table({"key": [key], "value": [json.dumps(value)]}, schema=self._meta.schema)
        self._meta.merge_insert("key").when_matched_update_all().when_not_matched_insert_all().execute(data)

    def state(self, kind: str, keys: Sequence[str] | None = None) -> dict[str, Any]:
        table = self._state_if_any()
        if table is None or (keys is not None and not keys):
            return {}
        cond = to_sql(Compare("kind", "=", kind))
        out: dict[str, Any] = {}
        chunks = [None] if keys is None else [tuple(keys[i : i + 500]) for i in range(0, len(keys), 500)]
        for chunk in chunks:
            where = cond if chunk is None else f"{cond} AND {to_sql(InList('key', chunk))}"
            for r in table.search().where(where).select(["key", "value"]).limit(None).to_arrow().to_pylist():
                out[r["key"]] = json.loads(r["value"])
        return out

    def put_state(self, kind: str, items: Mapping[str, Any]) -> None:
        if not items:
            return
        now = time.time()
        data = pa.table(
            {
                "kind": [kind] * len(items),
                "key": list(items),
                "value": [json.dumps(v) for v in items.values()],
                "updated_at": [now] * len(items),
            },
            schema=self._state.schema,
        )
        self._state.merge_insert(["kind", "key"]).when_matched_update_all().when_not_matched_insert_all().execute(data)

    def delete_state(self, kind: str, keys: Sequence[str]) -> int:
        total = 0
        if self._state_if_any() is None:
            return 0
        for i in range(0, len(keys), 500):
            cond = f"{to_sql(Compare('kind', '=', kind))} AND {to_sql(InList('key', tuple(keys[i : i + 500])))}"
            n = self._state.count_rows(cond)
            if n:
                self._state.delete(cond)
            total += n
        return total

    def state_kinds(self) -> list[str]:
        table = self._state_if_any()
        if table is None:
            return []
        return sorted({r["kind"] for r in table.search().select(["kind"]).limit(None).to_arrow().to_pylist()})

    @property
    def _postings(self):
        if self._postings_index is None:
            from tonearm.store.postings import FilePostings

            self._postings_index = FilePostings(Path(self.location) / "landmarks")
        return self._postings_index

    def storage_check(self, repair: bool = False) -> list[tuple[str, bool]]:
        found: list[tuple[str, bool]] = []
        temporaries = [f for f in Path(self.location).iterdir() if f.is_file() and is_temporary(f.name)]
        leftovers = self._postings.leftovers()
        for what, files in (("temporary files of an interrupted write", temporaries),
                            ("landmark files no live segment uses", leftovers)):  # fmt: skip
            if files:
                if repair:
                    for f in files:
                        f.unlink(missing_ok=True)
                found.append((f"{len(files)} {what}", repair))
        damage = self._postings.damage()
        found += [(f"{problem}: the rows' peaks rebuild the index", repair) for problem in damage]
        if repair and damage:
            self._postings.reset()
        return found

    def postings_tracks(self) -> dict[str, str]:
        return self._postings.tracks()

    def update_postings(self, add: Mapping[str, tuple[str, np.ndarray, np.ndarray]], remove: Sequence[str]) -> None:
        self._postings.update(add, remove)

    def vote_postings(
        self,
        hashes: np.ndarray,
        times: np.ndarray,
        cap: int = 2000,
        min_score: int = 2,
        budget: int | None = None,
        weights: np.ndarray | None = None,
    ) -> tuple[list[str], np.ndarray, np.ndarray]:
        return self._postings.votes(hashes, times, cap, min_score, budget, weights)

    def postings_size(self) -> int:
        folder = Path(self.location) / "landmarks"
        return self._postings.size_bytes() if folder.is_dir() else 0

    def record_failures(self, failures: Sequence[Mapping[str, Any]]) -> None:
        if not failures:
            return
        now = time.time()
        data = pa.Table.from_pylist(
            [
                {
                    "path": f["path"],
                    "reason": f.get("reason"),
                    "size": f.get("size"),
                    "mtime_ns": f.get("mtime_ns"),
                    "failed_at": f.get("failed_at", now),
                }
                for f in failures
            ],
            schema=self._failures.schema,
        )
        self._failures.merge_insert("path").when_matched_update_all().when_not_matched_insert_all().execute(data)

    def clear_failures(self, paths: Sequence[str]) -> None:
        for i in range(0, len(paths), 500):
            cond = to_sql(InList("path", tuple(paths[i : i + 500])))
            if self._failures.count_rows(cond):
                self._failures.delete(cond)

    def failures(self) -> list[dict[str, Any]]:
        return self._failures.search().limit(None).to_arrow().to_pylist()

    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        lock_path = Path(self.location) / ".write.lock"
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise storage_fault(exc, self.location) or exc from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
                raise LibraryLockedError(
                    f"library {self.location} is being indexed by process {holder}; wait for it to finish"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _has_ann(self, view: str) -> bool:
        """Whether ``view`` has an ANN index (listed at most every 30 s: an index run may add one)."""
        return self._ann_partitions(view) is not None

    def _ann_partitions(self, view: str) -> int | None:
        """None without an ANN index; else its partitions (0 if not recorded: an older index)."""
        now = time.monotonic()
        if self._ann_checked is None or now - self._ann_checked[0] > 30.0:
            names = {i.name for i in self._tracks.list_indices()}
            states = {v: self.get_meta(f"ann:{v}") or {} for v in self.views() if f"{vector_column(v)}_idx" in names}
            parts = {v: int(st.get("partitions") or 0) for v, st in states.items()}
            self._ann_checked = (now, parts, {v: st.get("index") for v, st in states.items()})
        return self._ann_checked[1].get(view)

    def build_ann_indexes(self, force: bool = False) -> dict[str, int]:
        """(Re)build each large view's ANN index when it is missing or the view has doubled."""
        built = {}
        for view, dim in self.views().items():
            col = vector_column(view)
            rows = self.count(IsNull(col, negate=True))
            state = self.get_meta(f"ann:{view}") or {}
            if rows < ANN_MIN_ROWS and not force:
                continue
            kind = ann_index_type(dim)
            current = self._has_ann(view) and state.get("index") == kind and state.get("partitions")
            if current and rows < ANN_REBUILD_GROWTH * state.get("rows", 0) and not force:
                continue
            t0 = time.perf_counter()
            parts = ann_partitions(rows)
            config = (IvfFlat if kind == ANN_FLAT_INDEX else IvfSq)(distance_type="cosine", num_partitions=parts)
            with failpoints.during("ann"):
                self._tracks.create_index(col, config=config, name=f"{col}_idx", replace=True)
            self.set_meta(f"ann:{view}", {"rows": rows, "index": kind, "partitions": parts,
                                          "seconds": time.perf_counter() - t0})  # fmt: skip
            self._ann_checked = None
            built[view] = rows
            log.info("built the ANN index of view %s over %d rows", view, rows)
        return built

    def build_scalar_indexes(self) -> list[str]:
        """Index the columns that filters and lookups name, once the library is large.

        Without them every filtered search and every lookup by id or path reads the whole
        column; with them a 5%-selective filter is resolved from the index before the vector
        search. New rows are folded in by ``optimize`` (and scanned until then).
        """
        if self.count() < ANN_MIN_ROWS:
            return []
        have = {i.name for i in self._tracks.list_indices()}
        names = set(self._schema().names)
        built = []
        for column, kind in SCALAR_INDEXES.items():
            if column in names and f"{column}_idx" not in have:
                self._tracks.create_index(column, config=kind(), name=f"{column}_idx", replace=True)
                built.append(column)
        if built:
            log.info("built scalar indexes on %s", ", ".join(built))
        return built

    def optimize_indexes(self) -> None:
        """Build the vector and scalar indexes the library's size calls for."""
        for build, what in ((self.build_ann_indexes, "ANN"), (self.build_scalar_indexes, "scalar")):
            try:
                build()
            except Exception as exc:  # an index is an optimisation: search still works without it
                log.warning("%s index build skipped: %s", what, exc)

    def optimize(self) -> None:
        self.optimize_indexes()
        for table in (self._tracks, self._failures, self._meta, self._state_if_any()):
            if table is None:
                continue
            try:
                with failpoints.during("optimize"):
                    table.optimize(cleanup_older_than=timedelta(hours=1))
            except Exception as exc:  # compaction is an optimisation: never fail a run for it
                log.warning("compaction of %s skipped: %s", table.name, exc)

    def info(self) -> dict[str, Any]:
        return {
            "backend": "lancedb",
            "location": self.location,
            "schema_version": self.format_version(),
            "table_version": self._tracks.version,
            "views": self.views(),
            "tracks": self.count(),
            "custom_fields": sorted(set(self.fields()) - set(CORE_FIELDS)),
        }
