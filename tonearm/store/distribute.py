"""``tonearm store distribute``: shard a PostgreSQL library with Citus (a thin, documented DDL layer).

Citus turns the coordinator's ``tracks`` table into shards spread over worker nodes, hashed on
the track id; each shard keeps its own HNSW indexes, and a k-NN query fans out to every shard
and merges. The small bookkeeping tables become reference tables (a copy on every node). The
statements are the minimum Citus needs and nothing else is Citus-specific: tonearm's queries
stay plain SQL, so a distributed library is used exactly like a single-server one.

Citus is not installable on the machine tonearm is developed on (not in Debian, PyPI or npm),
so this layer is tested for the SQL it emits and for its clear failure on a server without
Citus, not against a Citus cluster.
"""

from __future__ import annotations

from tonearm.errors import TonearmError
from tonearm.store.postgres import PostgresStore

REFERENCE_TABLES = ("meta", "failures", "schema_migrations")


def distribution_sql(library: str, shard_count: int | None = None) -> list[str]:
    """The statements, in order, that distribute ``library`` (a schema name, already validated)."""
    out = ["CREATE EXTENSION IF NOT EXISTS citus"]
    if shard_count is not None:
        if not 1 <= shard_count <= 4096:
            raise TonearmError("--shards must be between 1 and 4096")
        out.append(f"SET citus.shard_count = {int(shard_count)}")
    out.append(f"SELECT create_distributed_table('{library}.tracks', 'id')")
    out += [f"SELECT create_reference_table('{library}.{t}')" for t in REFERENCE_TABLES]
    return out


def distribute(store: PostgresStore, shard_count: int | None = None, dry_run: bool = False) -> list[str]:
    """Run (or, with ``dry_run``, only return) the distribution statements; clear error without Citus."""
    statements = distribution_sql(store.library, shard_count)
    if dry_run:
        return statements
    import psycopg

    with psycopg.connect(store._conninfo, autocommit=True) as conn:
        available = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'citus'").fetchone()
        if not available:
            raise TonearmError(
                "this PostgreSQL server has no Citus extension: install Citus on the coordinator and workers "
                "(https://docs.citusdata.com), add the workers with citus_add_node(), then run this again"
            )
        for stmt in statements:
            conn.execute(stmt)
    return statements
