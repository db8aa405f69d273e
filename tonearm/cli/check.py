"""``tonearm check``: say in plain words whether a library is whole; ``--repair`` fixes what data allows."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from tonearm.cli.common import JsonOpt, LibraryOpt, console, handle_errors, open_library


@handle_errors
def check(
    repair: Annotated[
        bool, typer.Option("--repair", help="Fix what can be fixed without re-analysis (takes the write lock).")
    ] = False,
    files: Annotated[
        bool, typer.Option("--files/--no-files", help="Also look for indexed files gone from disk.")
    ] = True,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Verify a library: rows, vectors, landmark postings, duplicate groups, failures, leftover files, format.

    Exit status 0 when nothing is left to fix, 1 when something is (the hint says what can).
    """
    from tonearm.library.check import check_library

    report = check_library(open_library(library), repair=repair, files=files)
    if json_out:
        print(json.dumps(report.to_json(), indent=2))
    else:
        _show(report, repair)
    if not report.clean:
        raise typer.Exit(1)


def _show(report, repair: bool) -> None:
    console.print(f"library {report.location}: format {report.format}, {report.tracks} tracks", highlight=False)
    if not report.findings:
        console.print("[green]ok[/]: rows, vectors, postings, duplicate groups, failures and files are in step")
        return
    table = Table("check", "tracks", "problem", "state", title_justify="left", show_lines=False)
    for f in report.findings:
        state = ("[green]fixed[/]" if f.fixed else "[yellow]left[/]") + (f": {f.hint}" if f.hint else "")
        table.add_row(f.check, str(f.tracks or ""), f.problem, state)
    console.print(table)
    if not repair and any(not f.fixed and not f.hint for f in report.findings):
        console.print("run `tonearm check --repair` to fix what is marked left without a hint")


def register(app: typer.Typer) -> None:
    """Add ``check`` to the ``tonearm`` app, under "Library" in ``--help``."""
    app.command(rich_help_panel="Library")(check)
