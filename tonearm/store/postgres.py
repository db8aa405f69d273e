"""PostgreSQL + pgvector backend: the store for libraries that outgrow one machine.

Same contract as the LanceDB store (``tests/test_store_contract.py`` runs on both): one row per
track in ``<library>.tracks``, one ``vector(n)`` column per view with an HNSW index (cosine),
metadata as typed columns (sidecar fields become columns too, ``meta_json`` keeps the whole
merged metadata as text), filters compiled from the parsed ``--where`` tree to SQL with every
value bound as a parameter and every name quoted as an identifier — no filter text reaches the
server. A library is a PostgreSQL schema, so one database can hold several:

    postgresql://user:pass@host:5432/db?library=jazz     (default library name: ``tonearm``)

Why PostgreSQL: a server that replicates, backs up and shards (Citus, see
:mod:`tonearm.store.distribute`) with tools operators already know, and pgvector's HNSW with
iterative scans keeps filtered k-NN recall up. Connections come from one ``psycopg_pool`` per
process and URL, shared by every store object (the web server opens a store per request).
Schema changes are numbered migrations recorded in ``<library>.schema_migrations``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from tonearm.errors import LibraryLockedError, LibraryVersionError, NotFoundError, TonearmError
from tonearm.store.base import (
    CORE_FIELDS,
    INTEGER_FIELDS,
    INTERNAL_FIELDS,
    SCHEMA_VERSION,
    FieldValues,
    Hit,
    Store,
    VectorDeriver,
    raw_column,
    vector_column,
)
from tonearm.store.filters import And, Between, Compare, FieldType, Filter, InList, IsNull, Like, Not, Or

log = logging.getLogger(__name__)

DEFAULT_LIBRARY = "tonearm"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_POOLS: dict[str, Any] = {}
_POOLS_LOCK = threading.Lock()
POOL_MAX = 8
SCAN_PAGE = 1000  # rows per query of a scan (see PostgresStore.scan)
# HNSW build/search settings: m=16, ef_construction=64 are pgvector's defaults; ef_search is raised
# per query to cover k, and iterative scans keep filtered queries from returning too few rows.
EF_SEARCH_MIN = 200  # bench_scale at 1M x 889-d: ef 100 -> recall@10 0.915, 200 -> 0.966, 400 -> 0.989
# A filtered query's k best rows sit deeper in the graph's order: twice the breadth. At 1M x 889-d with a
# 5% filter (bench/results/scale-pg-1m-filtered.json): ef 200 -> recall 0.82 (p95 64 ms), 400 -> 0.89
# (48 ms), 800 -> 0.975 (93 ms, past the latency it is meant to keep).
EF_FILTER_WIDEN = 2


def _import_driver():  # psycopg and its pool; a clear error names the extra
    try:
        import psycopg
        from psycopg import sql
        from psycopg_pool import ConnectionPool
    except ImportError as exc:
        raise TonearmError("PostgreSQL libraries need the postgres extra: pip install 'tonearm[postgres]'") from exc
    return psycopg, sql, ConnectionPool


def parse_location(url: str) -> tuple[str, str]:
    """Split ``postgresql://...?library=NAME`` into the connection URL and the library (schema) name."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    library = next((v for k, v in query if k == "library"), DEFAULT_LIBRARY)
    if not _NAME.match(library):
        raise TonearmError(f"bad library name {library!r}: lower-case letters, digits and _, starting with a letter")
    rest = urlencode([(k, v) for k, v in query if k != "library"])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment)), library


def redact(url: str) -> str:
    """The URL without its password (for info output and errors)."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _pool(conninfo: str):
    _psycopg, _sql, ConnectionPool = _import_driver()
    with _POOLS_LOCK:
        pool = _POOLS.get(conninfo)
        if pool is None or pool.closed:
            pool = ConnectionPool(conninfo, min_size=1, max_size=POOL_MAX, open=False)
            try:
                pool.open(wait=True, timeout=15)
            except Exception as exc:
                raise TonearmError(f"cannot connect to PostgreSQL at {redact(conninfo)}: {exc}") from None
            _POOLS[conninfo] = pool
        return pool


def _pg_type(name: str, ftype: FieldType) -> str:
    if ftype == "string":
        return "text"
    if ftype == "bool":
        return "boolean"
    return "bigint" if name in INTEGER_FIELDS else "double precision"


def _field_type(pg_type: str) -> FieldType | None:
    if pg_type in ("text", "character varying"):
        return "string"
    if pg_type == "boolean":
        return "bool"
    if pg_type in ("bigint", "integer", "smallint", "double precision", "real", "numeric"):
        return "number"
    return None


def _vector_literal(v: Any) -> str:
    arr = np.asarray(v, dtype=np.float32).ravel()
    if not np.all(np.isfinite(arr)):
        raise TonearmError("vectors must be finite")
    return "[" + ",".join(repr(float(x)) for x in arr) + "]"


class PostgresStore(Store):
    """A library stored in one PostgreSQL schema (see the module docstring)."""

    def __init__(self, location: str, create: bool = True) -> None:
        psycopg, self._sql, _pool_cls = _import_driver()
        self._psycopg = psycopg
        self.location = location
        self._conninfo, self.library = parse_location(location)
        self._pool = _pool(self._conninfo)
        self._schema_cache: dict[str, str] | None = None
        if not self._schema_exists() and not create:
            raise NotFoundError(f"no library {self.library!r} in {redact(self._conninfo)} (run `tonearm index` first)")
        self._migrate()

    # ---- connections and schema ---------------------------------------------------------
    @contextlib.contextmanager
    def _conn(self) -> Iterator[Any]:
        with self._pool.connection() as conn:
            yield conn

    def _table(self, name: str) -> Any:
        return self._sql.Identifier(self.library, name)

    def _schema_exists(self) -> bool:
        with self._conn() as conn:
            row = conn.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'tracks'",
                (self.library,),
            ).fetchone()
        return row is not None

    def _migrate(self) -> None:
        """Apply numbered migrations not yet recorded, under an advisory lock (one migrator at a time)."""
        sql = self._sql
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key("migrate"),))
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.library)))
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (version integer PRIMARY KEY, applied_at double precision)"
                ).format(self._table("schema_migrations"))
            )
            done = {
                r[0] for r in conn.execute(sql.SQL("SELECT version FROM {}").format(self._table("schema_migrations")))
            }
            steps = self._migrations()
            if done and max(done) > steps[-1][0]:  # the transaction rolls back: nothing is changed
                raise LibraryVersionError(
                    f"library {self.library!r} was written by a newer tonearm (schema {max(done)}; this one reads up "
                    f"to {steps[-1][0]}): upgrade tonearm (pip install -U tonearm) to open it"
                )
            for version, statements in steps:
                if version in done:
                    continue
                for stmt in statements:
                    conn.execute(stmt)
                conn.execute(
                    sql.SQL("INSERT INTO {} VALUES (%s, %s)").format(self._table("schema_migrations")),
                    (version, time.time()),
                )
                log.info("library %s: applied schema migration %d", self.library, version)
            # Core columns added by later tonearm versions (as NULLs), like the LanceDB store does.
            have = self._columns(conn)
            for name, ftype in CORE_FIELDS.items():
                if name not in have:
                    conn.execute(
                        sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                            self._table("tracks"), sql.Identifier(name), sql.SQL(_pg_type(name, ftype))
                        )
                    )
        self._schema_cache = None

    def _migrations(self) -> list[tuple[int, list[Any]]]:
        sql = self._sql
        core = [sql.SQL("id text PRIMARY KEY")]
        core += [
            sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(_pg_type(n, t)))
            for n, t in CORE_FIELDS.items()
            if n != "id"
        ]
        core += [sql.SQL("{} text").format(sql.Identifier(n)) for n in INTERNAL_FIELDS]
        return [
            (
                1,
                [
                    sql.SQL("CREATE TABLE {} ({})").format(self._table("tracks"), sql.SQL(", ").join(core)),
                    sql.SQL("CREATE INDEX ON {} (path)").format(self._table("tracks")),
                    sql.SQL("CREATE INDEX ON {} (content_hash)").format(self._table("tracks")),
                    sql.SQL("CREATE TABLE {} (key text PRIMARY KEY, value jsonb)").format(self._table("meta")),
                    sql.SQL(
                        "CREATE TABLE {} (path text PRIMARY KEY, reason text, size bigint, mtime_ns bigint, "
                        "failed_at double precision)"
                    ).format(self._table("failures")),
                ],
            ),
            (
                2,
                [
                    sql.SQL(
                        "CREATE TABLE {} (kind text, key text, value jsonb, updated_at double precision, "
                        "PRIMARY KEY (kind, key))"
                    ).format(self._table("state")),
                ],
            ),
            (
                3,
                [
                    sql.SQL("CREATE TABLE {} (track text PRIMARY KEY, key text)").format(
                        self._table("landmark_tracks")
                    ),
                    sql.SQL("CREATE TABLE {} (hash integer, track text, t integer)").format(self._table("landmarks")),
                    sql.SQL("CREATE INDEX ON {} (hash)").format(self._table("landmarks")),
                    sql.SQL("CREATE INDEX ON {} (track)").format(self._table("landmarks")),
                ],
            ),
            # 4: statistics may carry a discriminant projection (nothing stored changes; see formats.py's
            # history): the number moves so that an older tonearm refuses the library.
            (4, []),
            # 5: a view's search column may be shorter than its raw one (formats.py's history, format 4).
            (5, []),
        ]

    def _lock_key(self, purpose: str) -> int:
        digest = hashlib.blake2b(f"tonearm:{self.library}:{purpose}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)

    def _columns(self, conn: Any | None = None) -> dict[str, str]:
        """Column name -> formatted type (``vector(384)``, ``text``...) of the tracks table."""
        if self._schema_cache is not None and conn is None:
            return self._schema_cache
        query = (
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = 'tracks' AND a.attnum > 0 AND NOT a.attisdropped"
        )
        # A column being filled by a rewrite to a new dimension (``nxt_*``) is nobody else's business.
        if conn is not None:
            return {n: t for n, t in conn.execute(query, (self.library,)).fetchall() if not n.startswith("nxt_")}
        with self._conn() as c:
            found = c.execute(query, (self.library,)).fetchall()
        self._schema_cache = {n: t for n, t in found if not n.startswith("nxt_")}
        return self._schema_cache

    def _alter(self, statements: Sequence[Any]) -> None:
        with self._conn() as conn, conn.transaction():
            for stmt in statements:
                conn.execute(stmt)
        self._schema_cache = None

    # ---- schema -------------------------------------------------------------------------
    def _vector_dims(self, prefix: str) -> dict[str, int]:
        out = {}
        for name, typ in self._columns().items():
            m = re.fullmatch(r"vector\((\d+)\)", typ)
            if name.startswith(prefix) and m:
                out[name[len(prefix) :]] = int(m.group(1))
        return out

    def ensure_view(self, view: str, dim: int, search_dim: int | None = None) -> None:
        if self._has_view(view, dim):
            return
        if not _NAME.match(view):
            raise TonearmError(f"bad view name {view!r}")
        sql = self._sql
        vec, raw = sql.Identifier(vector_column(view)), sql.Identifier(raw_column(view))
        self._alter(
            [
                sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} vector({})").format(
                    self._table("tracks"), vec, sql.Literal(search_dim or dim)
                ),
                sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} vector({})").format(
                    self._table("tracks"), raw, sql.Literal(dim)
                ),
                # pgvector's HNSW takes up to 2000 dimensions for vector: every built-in view is below.
                self._hnsw_index(view),
            ]
        )

    def drop_view(self, view: str) -> None:
        sql = self._sql
        cols = [c for c in (vector_column(view), raw_column(view)) if c in self._columns()]
        self._alter(
            [sql.SQL("ALTER TABLE {} DROP COLUMN {}").format(self._table("tracks"), sql.Identifier(c)) for c in cols]
        )

    def fields(self) -> dict[str, FieldType]:
        out: dict[str, FieldType] = {}
        for name, typ in self._columns().items():
            if name in INTERNAL_FIELDS or name.startswith(("vec_", "raw_", "ana_")):
                continue
            t = _field_type(typ)
            if t:
                out[name] = t
        return out

    def ensure_fields(self, fields: Mapping[str, FieldType]) -> None:
        have = self._columns()
        sql = self._sql
        new = []
        for name, ftype in fields.items():
            if name in have:
                continue
            if not _NAME.match(name):
                raise TonearmError(f"bad field name {name!r}")
            new.append(
                sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                    self._table("tracks"), sql.Identifier(name), sql.SQL(_pg_type(name, ftype))
                )
            )
        if new:
            self._alter(new)

    # ---- filters ------------------------------------------------------------------------
    def to_sql(self, node: Filter) -> tuple[Any, list[Any]]:
        """Compile a validated filter tree: identifiers quoted, every value a bound parameter."""
        sql = self._sql
        if isinstance(node, (And, Or)):
            parts = [self.to_sql(i) for i in node.items]
            joiner = sql.SQL(" AND " if isinstance(node, And) else " OR ")
            return sql.SQL("({})").format(joiner.join(p for p, _ in parts)), [v for _, vs in parts for v in vs]
        if isinstance(node, Not):
            inner, params = self.to_sql(node.item)
            return sql.SQL("(NOT {})").format(inner), params
        col = sql.Identifier(node.field)
        neg = sql.SQL("NOT " if getattr(node, "negate", False) else "")
        if isinstance(node, Compare):
            op = sql.SQL("<>" if node.op == "!=" else node.op)
            return sql.SQL("({} {} %s)").format(col, op), [node.value]
        if isinstance(node, InList):
            # NOT IN with NULL semantics like SQL's: NULL fields match neither IN nor NOT IN.
            return sql.SQL("({} {}IN ({}))").format(
                col, neg, sql.SQL(", ").join(sql.Placeholder() for _ in node.values)
            ), list(node.values)
        if isinstance(node, Like):
            op = sql.SQL("ILIKE" if node.case_insensitive else "LIKE")
            return sql.SQL("({} {}{} %s)").format(col, neg, op), [node.pattern]
        if isinstance(node, Between):
            return sql.SQL("({} {}BETWEEN %s AND %s)").format(col, neg), [node.low, node.high]
        if isinstance(node, IsNull):
            return sql.SQL("({} IS {}NULL)").format(col, sql.SQL("NOT " if node.negate else "")), []
        raise TypeError(f"unknown filter node {node!r}")

    def _where(self, *parts: tuple[Any, list[Any]] | None) -> tuple[Any, list[Any]]:
        kept = [p for p in parts if p is not None]
        if not kept:
            return self._sql.SQL(""), []
        clause = self._sql.SQL(" AND ").join(p for p, _ in kept)
        return self._sql.SQL(" WHERE {}").format(clause), [v for _, vs in kept for v in vs]

    # ---- rows ---------------------------------------------------------------------------
    def _select_list(self, columns: Sequence[str] | None, default_skip: tuple[str, ...] = ()) -> tuple[Any, list[str]]:
        have = self._columns()
        if columns:
            missing = [c for c in columns if c not in have]
            if missing:
                raise TonearmError(f"no such column(s): {', '.join(missing)}")
            names = list(columns)
        else:
            names = [c for c in have if not c.startswith(default_skip)] if default_skip else list(have)
        sql = self._sql
        # Vectors come back as float arrays (no type adapter needed on pooled connections).
        items = [
            sql.SQL("{}::real[]").format(sql.Identifier(c)) if have[c].startswith("vector(") else sql.Identifier(c)
            for c in names
        ]
        return sql.SQL(", ").join(items), names

    def _decode(self, names: list[str], values: Sequence[Any]) -> dict[str, Any]:
        row = {}
        for name, value in zip(names, values, strict=True):
            if value is not None and name.startswith(("vec_", "raw_")):
                value = np.asarray(value, dtype=np.float32).tolist()
            row[name] = value
        return row

    def upsert(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        sql = self._sql
        have = self._columns()
        names = list(have)
        vectors = {n for n, t in have.items() if t.startswith("vector(")}
        insert = sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET {}").format(
            self._table("tracks"),
            sql.SQL(", ").join(sql.Identifier(n) for n in names),
            sql.SQL(", ").join(sql.SQL("%s::vector") if n in vectors else sql.Placeholder() for n in names),
            sql.SQL(", ").join(
                sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(n), sql.Identifier(n)) for n in names if n != "id"
            ),
        )
        params = []
        for row in rows:
            values = []
            for n in names:
                v = row.get(n)
                if n in vectors and v is not None:
                    v = _vector_literal(v)
                elif isinstance(v, np.generic):
                    v = v.item()
                values.append(v)
            params.append(values)
        with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(insert, params)

    def delete(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        with self._conn() as conn, conn.transaction():
            cur = conn.execute(
                self._sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(self._table("tracks")), (list(ids),)
            )
            return cur.rowcount

    def get(self, ids: Sequence[str], columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
        if not ids:
            return []
        select, names = self._select_list(columns)
        query = self._sql.SQL("SELECT {} FROM {} WHERE id = ANY(%s)").format(select, self._table("tracks"))
        with self._conn() as conn:
            return [self._decode(names, r) for r in conn.execute(query, (list(ids),)).fetchall()]

    def scan(
        self,
        where: Filter | None = None,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Matching rows in id order, read a page at a time.

        Each page is one short query (``id > last id``, through the primary key), and no
        connection is held while the caller works on the rows: a caller that writes as it scans
        (a refit, ``check --repair``) or stops half-way cannot exhaust the pool or keep a
        transaction open. Rows committed by others meanwhile appear if their id is still ahead.
        """
        names = self._select_list(columns)[1]
        fetch = names if "id" in names else [*names, "id"]
        select = self._select_list(fetch)[0]
        matching = self.to_sql(where) if where else None
        last: str | None = None
        left = limit
        while left is None or left > 0:
            page = SCAN_PAGE if left is None else min(SCAN_PAGE, left)
            after = (self._sql.SQL("id > %s"), [last]) if last is not None else None
            clause, params = self._where(matching, after)
            query = self._sql.SQL("SELECT {} FROM {}{} ORDER BY id LIMIT %s").format(
                select, self._table("tracks"), clause
            )
            with self._conn() as conn:
                rows = conn.execute(query, [*params, page]).fetchall()
            for r in rows:
                row = self._decode(fetch, r)
                last = row["id"]
                if "id" not in names:
                    del row["id"]
                yield row
            if left is not None:
                left -= len(rows)
            if len(rows) < page:
                return

    def set_vectors(
        self, view: str, ids: Sequence[str], vectors: np.ndarray, fields: FieldValues | None = None
    ) -> None:
        self._update_vectors(vector_column(view), ids, vectors, fields)

    def _update_vectors(
        self, column: str, ids: Sequence[str], vectors: np.ndarray, fields: FieldValues | None = None
    ) -> None:
        """One UPDATE for the rows' vectors in ``column`` and their ``fields`` (text columns)."""
        if len(ids) == 0:
            return
        sql = self._sql
        names = list(fields or {})
        sets = [sql.SQL("{} = d.v::vector").format(sql.Identifier(column))]
        sets += [sql.SQL("{} = d.{}").format(sql.Identifier(n), sql.Identifier(f"f{i}")) for i, n in enumerate(names)]
        arrays = sql.SQL(", ").join([sql.SQL("%s::text[]")] * (2 + len(names)))
        aliases = sql.SQL(", ").join([sql.Identifier(a) for a in ("id", "v", *(f"f{i}" for i in range(len(names))))])
        query = sql.SQL("UPDATE {} AS t SET {} FROM unnest({}) AS d({}) WHERE t.id = d.id").format(
            self._table("tracks"), sql.SQL(", ").join(sets), arrays, aliases
        )
        literals = [_vector_literal(v) for v in vectors]
        params = [list(ids), literals, *(list((fields or {})[n]) for n in names)]
        with self._conn() as conn, conn.transaction():
            conn.execute(query, params)

    def rewrite_vectors(
        self,
        view: str,
        derive: VectorDeriver,
        columns: Sequence[str],
        batch_rows: int = 4096,
        dim: int | None = None,
    ) -> int:
        if dim is None or dim == self.views().get(view):
            return super().rewrite_vectors(view, derive, columns, batch_rows)
        # A new dimension: the vectors fill a new column batch by batch (readers keep searching the old
        # one), which then takes the old one's place in one short transaction; its index follows. Killed
        # while filling, the half-filled column is dropped by the next rewrite, which the statistics
        # (written after this) still call for.
        sql = self._sql
        tracks, nxt = self._table("tracks"), f"nxt_{view}"
        self._alter([
            sql.SQL("ALTER TABLE {} DROP COLUMN IF EXISTS {}").format(tracks, sql.Identifier(nxt)),
            sql.SQL("ALTER TABLE {} ADD COLUMN {} vector({})").format(tracks, sql.Identifier(nxt), sql.Literal(dim)),
        ])  # fmt: skip
        written = self._derive_in_batches(
            derive, columns, batch_rows, lambda ids, v, f: self._update_vectors(nxt, ids, v, f)
        )
        vec = sql.Identifier(vector_column(view))
        self._alter([
            sql.SQL("ALTER TABLE {} DROP COLUMN {}").format(tracks, vec),
            sql.SQL("ALTER TABLE {} RENAME COLUMN {} TO {}").format(tracks, sql.Identifier(nxt), vec),
        ])  # fmt: skip
        self._alter([self._hnsw_index(view)])  # killed before this: the next optimize() builds it
        return written

    def _hnsw_index(self, view: str) -> Any:
        """The statement that gives ``view``'s search column its HNSW index, unless it has one."""
        sql = self._sql
        return sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw ({} vector_cosine_ops)").format(
            sql.Identifier(f"hnsw_{view}"), self._table("tracks"), sql.Identifier(vector_column(view))
        )

    def count(self, where: Filter | None = None) -> int:
        clause, params = self._where(self.to_sql(where) if where else None)
        query = self._sql.SQL("SELECT count(*) FROM {}{}").format(self._table("tracks"), clause)
        with self._conn() as conn:
            return int(conn.execute(query, params).fetchone()[0])

    def size_estimate(self) -> int:
        # The planner's row estimate (kept by autovacuum and ANALYZE): count(*) reads the whole table,
        # tens of ms at 1M tracks, on every query that sizes its work by the library.
        with self._conn() as conn:
            row = conn.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                (f'"{self.library}".tracks',),
            ).fetchone()
        return int(row[0]) if row and row[0] is not None and row[0] >= 0 else self.count()

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
        sql = self._sql
        vec = sql.Identifier(vector_column(view))
        select, names = self._select_list(columns, default_skip=("vec_", "raw_", "ana_"))
        clause, params = self._where(
            (sql.SQL("({} IS NOT NULL)").format(vec), []),
            self.to_sql(where) if where else None,
            (sql.SQL("(NOT (id = ANY(%s)))"), [list(exclude_ids)]) if exclude_ids else None,
            (sql.SQL("(content_hash IS NULL OR NOT (content_hash = ANY(%s)))"), [list(exclude_hashes)])
            if exclude_hashes
            else None,
        )
        q = _vector_literal(vector)
        query = sql.SQL(
            "SELECT {}, ({} <=> %s::vector) AS _distance FROM {}{} ORDER BY {} <=> %s::vector LIMIT %s"
        ).format(select, vec, self._table("tracks"), clause, vec)
        with self._conn() as conn, conn.transaction():
            # Filtered HNSW scans keep going until k rows pass the filter (pgvector >= 0.8).
            conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            ef = max(EF_SEARCH_MIN, 2 * k) * (EF_FILTER_WIDEN if where is not None else 1)
            conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(min(1000, ef))))
            rows = conn.execute(query, [q, *params, q, k]).fetchall()
        hits = []
        for r in rows:
            row = self._decode(names, r[:-1])
            hits.append(Hit(row, float(1.0 - r[-1])))
        hits.sort(key=lambda h: -h.score)  # relaxed order: re-sort the few rows returned
        return hits

    def revision(self) -> str:
        # xmin (the writing transaction) changes with every insert and update; the count catches deletes.
        query = self._sql.SQL("SELECT count(*), coalesce(max(xmin::text::bigint), 0) FROM {}").format(
            self._table("tracks")
        )
        with self._conn() as conn:
            n, xmin = conn.execute(query).fetchone()
        return f"{n}:{xmin}"

    def columns(self) -> dict[str, str]:
        return {n: t if t.startswith("vector(") else (_field_type(t) or "string") for n, t in self._columns().items()}

    # ---- bookkeeping --------------------------------------------------------------------
    def meta_keys(self) -> list[str]:
        with self._conn() as conn:
            return [
                r[0] for r in conn.execute(self._sql.SQL("SELECT key FROM {} ORDER BY key").format(self._table("meta")))
            ]

    def get_meta(self, key: str) -> Any | None:
        with self._conn() as conn:
            row = conn.execute(
                self._sql.SQL("SELECT value FROM {} WHERE key = %s").format(self._table("meta")), (key,)
            ).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: Any) -> None:
        query = self._sql.SQL(
            "INSERT INTO {} (key, value) VALUES (%s, %s::jsonb) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
        ).format(self._table("meta"))
        with self._conn() as conn, conn.transaction():
            conn.execute(query, (key, json.dumps(value)))

    def state(self, kind: str, keys: Sequence[str] | None = None) -> dict[str, Any]:
        if keys is not None and not keys:
            return {}
        sql = self._sql
        query = sql.SQL("SELECT key, value FROM {} WHERE kind = %s").format(self._table("state"))
        params: tuple[Any, ...] = (kind,)
        if keys is not None:
            query = query + sql.SQL(" AND key = ANY(%s)")
            params = (kind, list(keys))
        with self._conn() as conn:
            return dict(conn.execute(query, params).fetchall())

    def put_state(self, kind: str, items: Mapping[str, Any]) -> None:
        if not items:
            return
        query = self._sql.SQL(
            "INSERT INTO {} (kind, key, value, updated_at) VALUES (%s, %s, %s::jsonb, %s) "
            "ON CONFLICT (kind, key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at"
        ).format(self._table("state"))
        now = time.time()
        rows = [(kind, k, json.dumps(v), now) for k, v in items.items()]
        with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(query, rows)

    def delete_state(self, kind: str, keys: Sequence[str]) -> int:
        if not keys:
            return 0
        query = self._sql.SQL("DELETE FROM {} WHERE kind = %s AND key = ANY(%s)").format(self._table("state"))
        with self._conn() as conn, conn.transaction():
            return conn.execute(query, (kind, list(keys))).rowcount

    def state_kinds(self) -> list[str]:
        with self._conn() as conn:
            query = self._sql.SQL("SELECT DISTINCT kind FROM {} ORDER BY kind").format(self._table("state"))
            return [r[0] for r in conn.execute(query)]

    # ---- landmark postings: one row per posting, replaced per track in one transaction ----------
    def postings_tracks(self) -> dict[str, str]:
        with self._conn() as conn:
            return dict(conn.execute(self._sql.SQL("SELECT track, key FROM {}").format(self._table("landmark_tracks"))))

    def has_postings(self) -> bool:
        with self._conn() as conn:
            query = self._sql.SQL("SELECT 1 FROM {} LIMIT 1").format(self._table("landmark_tracks"))
            return conn.execute(query).fetchone() is not None

    def update_postings(self, add: Mapping[str, tuple[str, np.ndarray, np.ndarray]], remove: Sequence[str]) -> None:
        if not add and not remove:
            return
        sql = self._sql
        gone = sorted(set(remove) | set(add))
        with self._conn() as conn, conn.transaction():
            for table in ("landmarks", "landmark_tracks"):
                conn.execute(sql.SQL("DELETE FROM {} WHERE track = ANY(%s)").format(self._table(table)), (gone,))
            with conn.cursor() as cur:
                with cur.copy(sql.SQL("COPY {} (hash, track, t) FROM STDIN").format(self._table("landmarks"))) as copy:
                    for tid, (_, h, t) in add.items():
                        for hv, tv in zip(
                            np.asarray(h, np.int64).tolist(), np.asarray(t, np.int64).tolist(), strict=True
                        ):
                            copy.write_row((hv, tid, tv))
                cur.executemany(
                    sql.SQL("INSERT INTO {} (track, key) VALUES (%s, %s)").format(self._table("landmark_tracks")),
                    [(tid, key) for tid, (key, _, _) in add.items()],
                )

    def vote_postings(
        self,
        hashes: np.ndarray,
        times: np.ndarray,
        cap: int = 2000,
        min_score: int = 2,
        budget: int | None = None,
        weights: np.ndarray | None = None,
    ) -> tuple[list[str], np.ndarray, np.ndarray]:
        if len(hashes) == 0:
            return [], np.zeros(0, np.int64), np.zeros(0, np.int64)
        # Bucket sizes; the query's entries read by cost per weight (bucket size / weight, ties in query order:
        # as voting.choose) while the postings read stay within the budget; votes per (track, offset), the window
        # d-1..d+1 (RANGE frame over the integer offset), and each track's best window.
        query = self._sql.SQL(
            "WITH q(h, qt, w, i) AS (SELECT * FROM unnest(%s::integer[], %s::integer[], %s::float8[]) "
            "WITH ORDINALITY), "
            "sizes AS (SELECT hash, count(*) AS n FROM {} WHERE hash = ANY(%s::integer[]) GROUP BY hash "
            "HAVING count(*) <= %s), "
            "chosen AS (SELECT h, qt FROM (SELECT q.h, q.qt, sum(s.n) OVER (ORDER BY s.n / q.w, q.i) AS spent "
            "FROM q JOIN sizes s ON s.hash = q.h WHERE q.w > 0) x WHERE spent <= %s), "
            "votes AS (SELECT p.track, p.t - c.qt AS d, count(*) AS n FROM {} p JOIN chosen c ON p.hash = c.h "
            "GROUP BY 1, 2), "
            "windows AS (SELECT track, d, sum(n) OVER (PARTITION BY track ORDER BY d "
            "RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS score FROM votes) "
            "SELECT DISTINCT ON (track) track, d, score FROM windows WHERE score >= %s ORDER BY track, score DESC, d"
        ).format(self._table("landmarks"), self._table("landmarks"))
        h = np.asarray(hashes, np.int64).tolist()
        w = np.ones(len(h)) if weights is None else np.asarray(weights, np.float64)
        params = (
            h,
            np.asarray(times, np.int64).tolist(),
            w.tolist(),
            sorted(set(h)),
            cap,
            2**62 if budget is None else budget,
            min_score,
        )
        with self._conn() as conn:
            rows = conn.execute(query, params).fetchall()
        if not rows:
            return [], np.zeros(0, np.int64), np.zeros(0, np.int64)
        return [r[0] for r in rows], np.array([r[1] for r in rows], np.int64), np.array([r[2] for r in rows], np.int64)

    def record_failures(self, failures: Sequence[Mapping[str, Any]]) -> None:
        if not failures:
            return
        now = time.time()
        query = self._sql.SQL(
            "INSERT INTO {} (path, reason, size, mtime_ns, failed_at) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (path) DO UPDATE SET reason = EXCLUDED.reason, size = EXCLUDED.size, "
            "mtime_ns = EXCLUDED.mtime_ns, failed_at = EXCLUDED.failed_at"
        ).format(self._table("failures"))
        rows = [
            (f["path"], f.get("reason"), f.get("size"), f.get("mtime_ns"), f.get("failed_at", now)) for f in failures
        ]
        with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(query, rows)

    def clear_failures(self, paths: Sequence[str]) -> None:
        if not paths:
            return
        with self._conn() as conn, conn.transaction():
            conn.execute(
                self._sql.SQL("DELETE FROM {} WHERE path = ANY(%s)").format(self._table("failures")), (list(paths),)
            )

    def failures(self) -> list[dict[str, Any]]:
        with self._conn() as conn:
            cur = conn.execute(
                self._sql.SQL("SELECT path, reason, size, mtime_ns, failed_at FROM {} ORDER BY path").format(
                    self._table("failures")
                )
            )
            names = [d.name for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        """A session advisory lock on a connection of its own, held for the whole index run."""
        conn = self._psycopg.connect(self._conninfo, autocommit=True)
        try:
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._lock_key("write"),)).fetchone()[0]
            if not got:
                raise LibraryLockedError(f"library {self.library} is being indexed by another process; wait for it")
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (self._lock_key("write"),))
        finally:
            conn.close()

    def optimize(self) -> None:
        # A search column swapped in by a rewrite to a new dimension gets its index afterwards: a process
        # killed in between left it without one.
        try:
            self._alter([self._hnsw_index(view) for view in self.views()])
        except Exception as exc:  # an index is an optimisation: search still works without it
            log.warning("HNSW index build skipped: %s", exc)
        try:
            with self._pool.connection() as conn:
                conn.autocommit = True
                conn.execute(self._sql.SQL("ANALYZE {}").format(self._table("tracks")))
                conn.autocommit = False
        except Exception as exc:  # statistics are an optimisation: never fail a run for them
            log.warning("ANALYZE skipped: %s", exc)

    def schema_version(self) -> int:
        with self._conn() as conn:
            return int(
                conn.execute(
                    self._sql.SQL("SELECT coalesce(max(version), 0) FROM {}").format(self._table("schema_migrations"))
                ).fetchone()[0]
            )

    def info(self) -> dict[str, Any]:
        return {
            "backend": "postgresql",
            "location": redact(self.location),
            "library": self.library,
            "schema_version": f"{SCHEMA_VERSION}/pg{self.schema_version()}",
            "views": self.views(),
            "tracks": self.count(),
            "custom_fields": sorted(set(self.fields()) - set(CORE_FIELDS)),
        }

    def close(self) -> None:
        """The pool is shared by every store on this URL in the process; it closes at exit."""
