"""Library commands: index a folder, list and inspect tracks, library statistics, duplicate recordings."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from tonearm.cli.common import (
    DEFAULT_WORKERS,
    JsonOpt,
    LibraryOpt,
    LlmModelOpt,
    LlmTimeoutOpt,
    LlmUrlOpt,
    WhereOpt,
    WorkersOpt,
    console,
    err_console,
    handle_errors,
    open_library,
    views_with_models,
)
from tonearm.cli.render import RichProgress
from tonearm.errors import TonearmError


@handle_errors
def index(
    paths: Annotated[list[str], typer.Argument(help="Folders or files to index (recursive).")],
    library: LibraryOpt = None,
    workers: WorkersOpt = DEFAULT_WORKERS,
    keep_missing: Annotated[bool, typer.Option(help="Keep tracks whose files are gone from disk.")] = False,
    retry_failed: Annotated[bool, typer.Option(help="Retry files that failed before, even if unchanged.")] = False,
    views: Annotated[str | None, typer.Option(help="View analyzers, e.g. sound=dsp.")] = None,
    model_path: Annotated[
        list[str] | None,
        typer.Option(
            "--model-path",
            help="Weights for analyzers you supply models for: NAME=PATH (panns, vggish, clap, hf); "
            "remembered by the library.",
        ),
    ] = None,
    transcribe: Annotated[
        str, typer.Option(help="Transcribe speech: auto (tracks that are mostly speech), always, never.")
    ] = "auto",
    asr_model: Annotated[
        str | None, typer.Option("--asr-model", help="CTranslate2 Whisper folder, or base / tiny.en (installed).")
    ] = None,
    llm_url: LlmUrlOpt = None,
    llm_model: LlmModelOpt = None,
    llm_timeout: LlmTimeoutOpt = 60.0,
    engine: Annotated[
        str, typer.Option(help="Where analysis runs: local (worker processes) or ray (actors on a Ray cluster).")
    ] = "local",
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address for --engine ray (default: start a local Ray).")
    ] = None,
    adapt: Annotated[
        bool | None,
        typer.Option(
            "--adapt/--no-adapt",
            help="Fit the sound view to this library (a discriminant projection, from 64 tracks on; default) "
            "or keep plain z-scores. Remembered by the library; switching re-derives vectors, analyses nothing.",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Index audio files: new and changed files are analysed, unchanged ones skipped, gone ones removed."""
    from tonearm.library.engines import make_engine
    from tonearm.library.indexer import Indexer
    from tonearm.words.emotions import backend_from_settings

    if transcribe not in ("auto", "always", "never"):
        raise TonearmError("--transcribe must be auto, always or never")
    # Analysis workers are separate processes: they read these settings from the environment.
    os.environ["TONEARM_TRANSCRIBE"] = transcribe
    if asr_model:
        os.environ["TONEARM_ASR_MODEL"] = asr_model
    runner = make_engine(engine, address)
    store = open_library(library, create=True)
    configured = views_with_models(views, model_path, store.get_meta("views"))
    indexer = Indexer(store, configured, backend_from_settings(llm_url, llm_model, llm_timeout), adapt=adapt)
    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}", style="cyan"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=err_console, transient=False, disable=json_out) as progress:
        report = indexer.run(
            paths,
            workers=workers,
            keep_missing=keep_missing,
            retry_failed=retry_failed,
            progress=RichProgress(progress),
            engine=runner,
        )
    if json_out:
        print(json.dumps(report.to_json(), indent=2))
        return
    console.print(
        f"[bold]{report.scanned}[/] files: {report.added} added, {report.updated} updated"
        + (f" ({report.retagged} only retagged)" if report.retagged else "")
        + f", {report.unchanged} unchanged, {report.metadata_refreshed} metadata refreshed, "
        + (f"{report.moved} moved, " if report.moved else "")
        + f"{report.removed} removed, {len(report.failed)} failed"
        + (f", {report.skipped_failed} skipped (failed before)" if report.skipped_failed else "")
        + f" in {report.elapsed:.1f} s"
    )
    if report.analysis_cpu_seconds > 0:
        console.print(
            f"analysed {report.analysed_seconds:.0f} s of audio at "
            f"{report.analysed_seconds / report.analysis_cpu_seconds:.1f} s/s per worker"
        )
    if report.levels_measured:
        console.print(f"loudness: {report.levels_measured} new tracks measured for players (ReplayGain)")
    if report.emotions_tagged or report.emotions_failed:
        console.print(f"emotions: {report.emotions_tagged} tracks tagged, {report.emotions_failed} not tagged")
    if report.duplicate_groups:
        console.print(
            f"duplicates: {report.files_in_duplicate_groups} files hold {report.duplicate_groups} recordings "
            "(each listed once in results; see `tonearm duplicates`)"
        )
    for warning in report.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if report.failed:
        table = Table("failed file", "reason", title="Files that could not be indexed", title_justify="left")
        for path, reason in report.failed:
            table.add_row(path, reason)
        console.print(table)


@handle_errors
def levels(
    library: LibraryOpt = None,
    workers: WorkersOpt = DEFAULT_WORKERS,
    json_out: JsonOpt = False,
) -> None:
    """Measure every track's loudness (BS.1770), so Subsonic players get a ReplayGain for all of them.

    Tracks with ReplayGain tags (gain and peak) and tracks measured before (same bytes) are skipped; from
    then on every index run measures the tracks it adds. An interrupted run keeps what it measured."""
    from tonearm.library.level_pass import measure_library

    store = open_library(library)
    columns = [SpinnerColumn(), TextColumn("{task.description}", style="cyan"), BarColumn(), MofNCompleteColumn(),
               TextColumn("eta"), TimeRemainingColumn(), TimeElapsedColumn()]  # fmt: skip
    with Progress(*columns, console=err_console, transient=False, disable=json_out) as progress:
        report = measure_library(store, workers, RichProgress(progress, "measuring"))
    if json_out:
        print(json.dumps(report.to_json(), indent=2))
        return
    console.print(
        f"[bold]{report.tracks}[/] tracks: {report.measured} measured, {report.known} measured before, "
        f"{report.tagged} with ReplayGain tags, {len(report.failed)} failed in {report.elapsed:.1f} s"
    )
    if report.failed:
        table = Table("file", "reason", title="Files that could not be measured", title_justify="left")
        for path, reason in report.failed:
            table.add_row(path, reason)
        console.print(table)


@handle_errors
def tracks(
    where: WhereOpt = None,
    limit: Annotated[int | None, typer.Option(help="At most this many rows.")] = None,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List indexed tracks, optionally filtered."""
    store = open_library(library)
    flt = store.compile_where(where)
    cols = ["id", "path", "title", "artist", "album", "genre", "year", "duration"]
    rows = sorted(store.scan(flt, columns=cols, limit=limit), key=lambda r: r["path"])
    if json_out:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("id", "title", "artist", "album", "genre", "year", "duration", title=f"{len(rows)} tracks")
    for r in rows:
        dur = f"{r['duration']:.0f} s" if r.get("duration") else ""
        title = r.get("title") or os.path.basename(r["path"])
        table.add_row(r["id"], title, r.get("artist") or "", r.get("album") or "", r.get("genre") or "",
                      str(r.get("year") or ""), dur)  # fmt: skip
    console.print(table)


@handle_errors
def info(
    track: Annotated[str, typer.Argument(help="Track id or indexed path.")],
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Everything the library knows about one track."""
    from tonearm.errors import NotFoundError
    from tonearm.library.display import readable_row
    from tonearm.search.similar import find_track

    row = find_track(open_library(library), track)
    if row is None:
        raise NotFoundError(f"no indexed track with id or path {track!r}")
    out = readable_row(row)
    if json_out:
        print(json.dumps(out, ensure_ascii=False, indent=2, default=str))
        return
    table = Table("field", "value", title=out.get("title") or os.path.basename(out["path"]), title_justify="left")
    for key, value in out.items():
        if value is None or key == "metadata":
            continue
        table.add_row(key, json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value))
    extra = {k: v for k, v in out["metadata"].items() if k not in out}
    for key, value in extra.items():
        table.add_row(f"meta.{key}", str(value))
    console.print(table)


@handle_errors
def duplicates(library: LibraryOpt = None, json_out: JsonOpt = False) -> None:
    """Recordings held in several files (re-encodes, other bitrates): the kept copy first, never deleted."""
    from tonearm.library.duplicates import duplicate_groups

    groups = duplicate_groups(open_library(library))
    if json_out:
        print(json.dumps({"groups": groups}, ensure_ascii=False, indent=2))
        return
    if not groups:
        console.print("no duplicate recordings found")
        return
    table = Table("group", "file", "kbps", "bit errors", title=f"{len(groups)} recordings in several files",
                  title_justify="left")  # fmt: skip
    for n, g in enumerate(groups, 1):
        for f in g["files"]:
            mark = "keep" if f["keeper"] else (f"{f['bit_errors']:.3f}" if f["bit_errors"] is not None else "")
            table.add_row(str(n), f["path"], str(f["kbps"] or ""), mark)
    console.print(table)


@handle_errors
def stats(
    failed: Annotated[bool, typer.Option("--failed", help="List files that could not be indexed.")] = False,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Library size, views, analyzers, failures and loudness levels."""
    from tonearm.library.level_pass import level_coverage

    store = open_library(library)
    failures = sorted(store.failures(), key=lambda f: f["path"])
    info_ = store.info()
    durations = [r["duration"] or 0.0 for r in store.scan(columns=["duration"])]
    info_.update(
        total_duration_s=round(sum(durations), 1),
        analyzers=store.get_meta("views") or {},
        raw_dims=store.raw_dims(),  # a projected view searches fewer numbers than its analyzer gives
        failed=len(failures),
        levels=level_coverage(store),  # loudness for players: `tonearm levels` measures the rest
    )
    if failed:
        if json_out:
            print(json.dumps(failures, indent=2))
            return
        table = Table("path", "reason", title=f"{len(failures)} failed files", title_justify="left")
        for f in failures:
            table.add_row(f["path"], f["reason"] or "")
        console.print(table)
        return
    if json_out:
        print(json.dumps(info_, indent=2))
        return
    table = Table("", "", show_header=False, title="Library", title_justify="left")
    for key, value in info_.items():
        table.add_row(key, json.dumps(value) if isinstance(value, (dict, list)) else str(value))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the ``tonearm`` app, under "Library" in ``--help``."""
    panel = "Library"
    app.command(rich_help_panel=panel)(index)
    app.command(rich_help_panel=panel)(tracks)
    app.command(rich_help_panel=panel)(info)
    app.command(rich_help_panel=panel)(duplicates)
    app.command(rich_help_panel=panel)(stats)
    app.command(rich_help_panel=panel)(levels)
