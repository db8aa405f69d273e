"""The store interface every backend implements (LanceDB embedded; PostgreSQL later).

Modelled on qdrant-client's one-API-many-backends design: callers hold a ``Store`` and never
know which engine is behind it. One track is one row: fixed metadata columns, any number
of custom (sidecar) fields, and one vector column per view. Filters arrive as parsed trees
(:mod:`tonearm.store.filters`) and each backend compiles them itself.

The behaviour every backend must show is pinned by ``tests/test_store_contract.py``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np

from tonearm.errors import TonearmError
from tonearm.store.filters import FieldType, Filter, parse_filter, validate

SCHEMA_VERSION = 1

REPLAYGAIN_FIELDS = ("replaygain_track_gain", "replaygain_track_peak", "replaygain_album_gain", "replaygain_album_peak")
# Metadata columns every library has, with their filter types.
CORE_FIELDS: dict[str, FieldType] = {
    "id": "string",
    "path": "string",
    "size": "number",
    "mtime_ns": "number",
    "content_hash": "string",
    "duration": "number",
    "sample_rate": "number",
    "channels": "number",
    "title": "string",
    "artist": "string",
    "album": "string",
    "albumartist": "string",
    "genre": "string",
    "year": "number",
    "track_no": "number",
    "disc_no": "number",
    "musicbrainz_trackid": "string",
    "musicbrainz_albumid": "string",
    "musicbrainz_artistid": "string",
    "lyrics": "string",
    "popularity": "number",
    "release_date": "string",
    "urls": "string",
    "added_at": "number",
    "analyzed_at": "number",
    # Id of the best copy when the same recording is in several files (tonearm.library.duplicates).
    "dup_group": "string",
    # ReplayGain from the file's tags (tonearm.library.replaygain): dB against -18 LUFS, peaks linear.
    **dict.fromkeys(REPLAYGAIN_FIELDS, "number"),
}
# Bookkeeping columns (not offered to --where): per-view analyzer ids, full metadata, sidecar state.
INTERNAL_FIELDS = ("views_json", "meta_json", "sidecar_sig")
INTEGER_FIELDS = frozenset({"size", "mtime_ns", "sample_rate", "channels", "year", "track_no", "disc_no"})

_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def vector_column(view: str) -> str:
    """Column holding a view's search vector (normalised)."""
    return f"vec_{view}"


def raw_column(view: str) -> str:
    """Column holding a view's raw analyzer output, kept for re-normalisation."""
    return f"raw_{view}"


def custom_field_name(key: str) -> str | None:
    """Turn a sidecar key into a safe column name, or None if it cannot be one."""
    name = re.sub(r"[^a-z0-9_]+", "_", key.strip().lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"x_{name}" if name else ""
    if not _FIELD_NAME.match(name) or name in INTERNAL_FIELDS or name.startswith(("vec_", "raw_", "ana_")):
        return None
    return name


# New values of other columns for some rows: column -> one value per row, in the rows' order.
FieldValues = Mapping[str, Sequence[Any]]
# Given a batch of rows (column name -> values), which rows get a new vector, and those vectors; optionally
# also FieldValues for the same rows, written in the same pass.
VectorDeriver = Callable[[dict[str, Any]], tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, FieldValues]]


def derived(out: tuple) -> tuple[np.ndarray, np.ndarray, FieldValues]:
    """A ``VectorDeriver``'s result as (keep, vectors, fields), fields empty when it gave none."""
    return (out[0], out[1], out[2]) if len(out) > 2 else (out[0], out[1], {})


@dataclass(frozen=True)
class Hit:
    """One k-NN result: the row's metadata and a similarity score (higher = more similar)."""

    row: dict[str, Any]
    score: float


class Store(ABC):
    """A library's persistent rows, vectors and bookkeeping."""

    location: str

    # ---- schema -------------------------------------------------------------------------
    def views(self) -> dict[str, int]:
        """Views that have a search vector column, with its dimension (what a query vector must have)."""
        return self._vector_dims("vec_")

    def raw_dims(self) -> dict[str, int]:
        """Views that keep their analyzer's raw output, with its dimension (the analyzer's).

        A view's search vector may be shorter than its raw output: a view fitted with a
        discriminant projection searches a few projected numbers, and keeps the raw output
        to fit the library again as it grows."""
        return self._vector_dims("raw_")

    @abstractmethod
    def _vector_dims(self, prefix: str) -> dict[str, int]:
        """The vector columns named ``prefix`` + a view, with their dimension, by view."""

    def _has_view(self, view: str, dim: int) -> bool:
        """Whether ``view``'s columns exist (for ``ensure_view``); raises if its raw output has another dimension."""
        have = self.raw_dims()
        if view not in have:
            return False
        if have[view] != dim:
            raise TonearmError(
                f"view {view!r} is stored with dimension {have[view]}, analyzer gives {dim}; "
                f"re-index with `tonearm index --rebuild-view {view}`"
            )
        return True

    @abstractmethod
    def ensure_view(self, view: str, dim: int, search_dim: int | None = None) -> None:
        """Create the columns for ``view``: raw output of ``dim`` numbers, search vector of ``search_dim``
        (default ``dim``). Raises if the raw column exists with another dimension; an existing search
        column keeps its dimension (``rewrite_vectors`` changes it)."""

    @abstractmethod
    def drop_view(self, view: str) -> None:
        """Remove a view's vector columns (its analyzer changed dimension: the view is made again)."""

    @abstractmethod
    def fields(self) -> dict[str, FieldType]:
        """Filterable metadata fields (core and custom) with their types."""

    @abstractmethod
    def ensure_fields(self, fields: Mapping[str, FieldType]) -> None:
        """Add custom metadata columns that do not exist yet."""

    def compile_where(self, where: str | Filter | None) -> Filter | None:
        """Parse (if text) and validate a filter against this library's fields."""
        node = parse_filter(where) if isinstance(where, str) else where
        return validate(node, self.fields()) if node is not None else None

    # ---- rows ---------------------------------------------------------------------------
    @abstractmethod
    def upsert(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert or fully replace rows by ``id``, atomically (all or none)."""

    @abstractmethod
    def delete(self, ids: Sequence[str]) -> int:
        """Delete rows by id; return how many existed."""

    def keep_one_copy(self, ids: Sequence[str], choose: Callable[[list[dict[str, Any]]], dict[str, Any]]) -> int:
        """Reduce rows that share an id to the copy ``choose`` picks from them; return how many went.

        Here ids are a primary key (PostgreSQL refuses a second copy), so there is nothing to do;
        a backend whose tables can hold copies (LanceDB: a writer that appended instead of
        merging) overrides this with a single commit, so the chosen copy is never missing.
        """
        return 0

    @abstractmethod
    def get(self, ids: Sequence[str], columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Rows for the given ids (missing ids are skipped), in no particular order."""

    @abstractmethod
    def scan(
        self,
        where: Filter | None = None,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Iterate rows matching ``where``."""

    def scan_batches(
        self, columns: Sequence[str], where: Filter | None = None, batch_rows: int = 4096
    ) -> Iterator[dict[str, Any]]:
        """Matching rows, ``batch_rows`` at a time, column by column: a vector column as one
        (n, dim) float32 array (NaN rows where a row has none), any other column as a list.

        Library-wide passes (re-normalising a view over a million tracks) read this way: one
        array per batch instead of a Python list per vector keeps their memory flat. Backends
        stream it from the database; this default groups ``scan`` rows.
        """
        batch: list[dict[str, Any]] = []
        for row in self.scan(where, columns):
            batch.append(row)
            if len(batch) >= batch_rows:
                yield self._columnar(batch, columns)
                batch = []
        if batch:
            yield self._columnar(batch, columns)

    def _columnar(self, rows: list[dict[str, Any]], columns: Sequence[str]) -> dict[str, Any]:
        dims = {vector_column(v): d for v, d in self.views().items()}
        dims.update({raw_column(v): d for v, d in self.raw_dims().items()})
        out: dict[str, Any] = {}
        for name in columns:
            values = [r.get(name) for r in rows]
            if name in dims:
                arr = np.full((len(rows), dims[name]), np.nan, np.float32)
                for i, v in enumerate(values):
                    if v is not None:
                        arr[i] = v
                out[name] = arr
            else:
                out[name] = values
        return out

    @abstractmethod
    def set_vectors(
        self, view: str, ids: Sequence[str], vectors: np.ndarray, fields: FieldValues | None = None
    ) -> None:
        """Replace the search vector of existing rows, keeping their other columns.

        ``fields``: other columns' new values for the same rows (one per id), written with the vectors
        (stored text derived with the vectors, such as a view's stretch vectors).

        Unknown ids are skipped: a row deleted meanwhile is never brought back as a bare vector.
        For a few rows (filled in after the statistics exist, repaired by ``tonearm check``); a
        whole view is written again with ``rewrite_vectors``.
        """

    def rewrite_vectors(
        self,
        view: str,
        derive: VectorDeriver,
        columns: Sequence[str],
        batch_rows: int = 4096,
        dim: int | None = None,
    ) -> int:
        """Derive every row's search vector of ``view`` again, in one pass over the library.

        ``derive`` gets a batch (``columns``, as ``scan_batches`` gives them) and returns which of
        its rows get a new vector and those vectors (and, optionally, new values of other columns for
        those rows); other rows keep theirs. Returns how many were
        written. ``dim``: the search vectors' new dimension, when it changes (then rows ``derive``
        skips have none). A backend may rewrite its whole table at once (LanceDB does: one commit
        instead of one per batch); this default writes the vectors batch by batch.
        """
        if dim is not None and dim != self.views().get(view):
            raise NotImplementedError(f"{type(self).__name__} cannot change a search vector's dimension")
        return self._derive_in_batches(derive, columns, batch_rows, lambda ids, v, f: self.set_vectors(view, ids, v, f))

    def _derive_in_batches(
        self,
        derive: VectorDeriver,
        columns: Sequence[str],
        batch_rows: int,
        write: Callable[[list[str], np.ndarray, FieldValues], None],
    ) -> int:
        """Stream the library, ``derive`` each batch's vectors and ``write`` them (ids, vectors, fields); how many."""
        written = 0
        for batch in self.scan_batches(columns, None, batch_rows):
            keep, vectors, fields = derived(derive(batch))
            ids = [i for i, k in zip(batch["id"], keep, strict=True) if k]
            write(ids, vectors, fields)
            written += len(ids)
        return written

    @abstractmethod
    def count(self, where: Filter | None = None) -> int:
        """Number of rows matching ``where``."""

    def size_estimate(self) -> int:
        """About how many rows the library has, cheaply: for sizing a query's work, not for showing."""
        return self.count()

    def knn(
        self,
        view: str,
        vector: np.ndarray,
        k: int,
        where: Filter | None = None,
        exclude_ids: Sequence[str] = (),
        exclude_hashes: Sequence[str] = (),
        columns: Sequence[str] | None = None,
    ) -> list[Hit]:
        """The ``k`` rows most similar (cosine) to ``vector`` in ``view``, filtered before ranking."""
        self._check_view(view, vector)
        if k <= 0:
            return []
        return self._knn(view, vector, k, where, exclude_ids, exclude_hashes, columns)

    def knn_batch(self, view: str, vectors: np.ndarray, k: int) -> list[list[Hit]]:
        """Unfiltered ``knn`` for many vectors at once (rows carry ``id`` only); backends may batch it."""
        self._check_view(view, vectors)
        if k <= 0:
            return [[] for _ in vectors]
        return [self._knn(view, v, k, None, (), (), ["id"]) for v in vectors]

    def _check_view(self, view: str, vector: np.ndarray | None = None) -> None:
        dims = self.views()
        if view not in dims:
            raise TonearmError(f"the library has no {view!r} view; index with an analyzer for it first")
        if vector is not None and np.size(vector) and np.shape(vector)[-1] != dims[view]:
            raise TonearmError(
                f"a query vector of {np.shape(vector)[-1]} numbers does not fit the {view!r} view's {dims[view]}: the "
                "library was refitted meanwhile (ask again), or its statistics wait for `tonearm index`"
            )

    @abstractmethod
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
        """The backend's k-NN search (``view`` exists and ``k`` > 0: checked by ``knn``)."""

    @abstractmethod
    def revision(self) -> str:
        """A token that changes whenever a row is added, changed or removed (by any process): caches key on it."""

    def find_by_path(self, path: str) -> dict[str, Any] | None:
        """The row indexed from ``path``, if any."""
        from tonearm.store.filters import Compare

        rows = list(self.scan(Compare("path", "=", path), limit=1))
        return rows[0] if rows else None

    # ---- library bookkeeping -------------------------------------------------------------
    @abstractmethod
    def columns(self) -> dict[str, str]:
        """Every column of the tracks table with its kind: string, number, bool, or vector(N)."""

    @abstractmethod
    def meta_keys(self) -> list[str]:
        """Keys of the library's JSON values (for copying a library)."""

    @abstractmethod
    def get_meta(self, key: str) -> Any | None:
        """A JSON value stored for the library (normaliser statistics, settings)."""

    @abstractmethod
    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON value for the library, atomically."""

    # ---- what listeners do: stars, ratings, plays, playlists (one value per kind and key) ---------
    @abstractmethod
    def state(self, kind: str, keys: Sequence[str] | None = None) -> dict[str, Any]:
        """Stored JSON values of one kind (all of them, or those of ``keys``), by key."""

    @abstractmethod
    def put_state(self, kind: str, items: Mapping[str, Any]) -> None:
        """Insert or replace values of one kind, atomically; other keys are untouched.

        Each key is its own row, so two processes writing different keys (two players scrobbling,
        a player starring while another edits a playlist) never lose each other's writes.
        """

    @abstractmethod
    def delete_state(self, kind: str, keys: Sequence[str]) -> int:
        """Remove values of one kind; return how many existed."""

    def state_kinds(self) -> list[str]:
        """Kinds that have values (for copying a library)."""
        return []

    # ---- landmark postings (identify a recording from an excerpt) ---------------------------------
    @abstractmethod
    def postings_tracks(self) -> dict[str, str]:
        """Tracks that have postings, with the key (analyzer and peaks digest) they were made from."""

    @abstractmethod
    def update_postings(self, add: Mapping[str, tuple[str, np.ndarray, np.ndarray]], remove: Sequence[str]) -> None:
        """Give each track of ``add`` the postings (key, uint32 hashes, int frames), drop those of ``remove``.

        Atomic: after a crash the index holds either the old or the new postings, never a mix.
        """

    @abstractmethod
    def vote_postings(
        self,
        hashes: np.ndarray,
        times: np.ndarray,
        cap: int = 2000,
        min_score: int = 2,
        budget: int | None = None,
        weights: np.ndarray | None = None,
    ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Each track's best aligned offset for a query: (track ids, offsets in frames, scores).

        A posting of query hash i votes for offset = posting frame - ``times[i]``; a track's score at an offset is
        the votes within one frame of it (tempo slack). Only each track's best offset is returned, and only when
        it scores at least ``min_score``. Hashes with more than ``cap`` postings are ignored (a stop list); with a
        ``budget``, the query's entries are read in order of ``weights[i]`` per posting (how likely entry i is to
        be a true match; by default 1 each: the rarest hashes first), no more than ``budget`` postings in all, so
        a query's cost stays bounded as the library grows. Entries of weight 0 or less are not read.
        """

    def has_postings(self) -> bool:
        """Whether any track has postings (cheaper than listing them)."""
        return bool(self.postings_tracks())

    def postings_size(self) -> int:
        """Bytes the postings take (0 when the backend cannot tell)."""
        return 0

    def storage_check(self, repair: bool = False) -> list[tuple[str, bool]]:
        """Damage beneath the rows (files beside the tables, leftovers of killed writes), as (what, fixed) pairs.

        With ``repair``, removes what nothing refers to and drops a damaged postings index (the rows' peaks
        rebuild it). Empty when all is sound; a backend whose writes are all transactional has nothing to say.
        """
        return []

    @abstractmethod
    def record_failures(self, failures: Sequence[Mapping[str, Any]]) -> None:
        """Remember files that could not be indexed: path, reason, size, mtime_ns."""

    @abstractmethod
    def clear_failures(self, paths: Sequence[str]) -> None:
        """Forget failures for these paths (they were indexed, or are gone)."""

    @abstractmethod
    def failures(self) -> list[dict[str, Any]]:
        """All recorded failures."""

    @abstractmethod
    def write_lock(self) -> AbstractContextManager[None]:
        """Exclusive lock for index runs; raises LibraryLockedError if another writer holds it."""

    def optimize(self) -> None:  # noqa: B027 - optional hook; a backend without upkeep needs nothing
        """Compact storage after many small commits (optional)."""

    @abstractmethod
    def info(self) -> dict[str, Any]:
        """Backend, location, schema version, views, row count."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
