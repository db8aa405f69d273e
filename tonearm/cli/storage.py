"""``tonearm store``: copy a library between backends, shard a PostgreSQL library with Citus."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from tonearm.cli.common import JsonOpt, LibraryOpt, console, err_console, handle_errors, open_library
from tonearm.errors import TonearmError

store_app = typer.Typer(help="Library storage: copy between backends, shard with Citus.", no_args_is_help=True)


@store_app.command("copy")
@handle_errors
def store_copy(
    src: Annotated[str, typer.Argument(help="Source library: a folder or postgresql://...?library=NAME")],
    dst: Annotated[str, typer.Argument(help="Destination library (created if missing)")],
    json_out: JsonOpt = False,
) -> None:
    """Copy a library between LanceDB and PostgreSQL (either way), resumably; verified by counts and checksums."""
    from tonearm.library.landmarks import sync_postings
    from tonearm.store.copy import copy_library

    source, dest = open_library(src), open_library(dst, create=True)
    with Progress(SpinnerColumn(), TextColumn("copying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, disable=json_out) as progress:  # fmt: skip
        task = progress.add_task("copy", total=None)
        report = copy_library(source, dest, lambda done, total: progress.update(task, completed=done, total=total),
                              derive_postings=sync_postings)  # fmt: skip
    payload = dict(report.__dict__, verified=report.verified)
    if json_out:
        print(json.dumps(payload, indent=2))
    else:
        resumed = f" (resumed after {report.resumed_after})" if report.resumed_after else ""
        console.print(f"copied {report.copied} of {report.rows} tracks{resumed}")
        console.print(
            f"source {report.source_count} rows, checksum {report.source_checksum[:16]}; "
            f"destination {report.destination_count} rows, checksum {report.destination_checksum[:16]}"
        )
        if report.postings_tracks is not None:
            console.print(f"landmark postings: {report.postings_tracks} tracks, "
                          f"checksum {report.destination_postings_checksum[:16]}")  # fmt: skip
    if not report.verified:
        raise TonearmError("verification failed: the destination differs from the source (run the copy again)")
    if not json_out:
        console.print("[green]verified[/]: same rows, same checksum")


@store_app.command("distribute")
@handle_errors
def store_distribute(
    library: LibraryOpt = None,
    shards: Annotated[int | None, typer.Option(help="Number of shards (Citus default: 32).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the SQL without running it.")] = False,
) -> None:
    """Shard a PostgreSQL library's tracks table over a Citus cluster (by track id)."""
    from tonearm.store.distribute import distribute
    from tonearm.store.postgres import PostgresStore

    store = open_library(library)
    if not isinstance(store, PostgresStore):
        raise TonearmError("only PostgreSQL libraries can be distributed (--library postgresql://...)")
    for stmt in distribute(store, shards, dry_run=dry_run):
        console.print(stmt + ";", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the ``tonearm`` app, under "Library" in ``--help``."""
    panel = "Library"
    app.add_typer(store_app, name="store", rich_help_panel=panel)
