"""The ``tonearm`` command line.

Every user-facing error is a ``TonearmError``: it is printed as one line on stderr with exit
status 2, never as a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
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

from tonearm.config import resolve_library
from tonearm.errors import TonearmError

app = typer.Typer(
    name="tonearm",
    help="Find music and audio by how it sounds: index a folder, then ask what sounds alike.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

LibraryOpt = Annotated[
    str | None,
    typer.Option(
        "--library",
        "-l",
        help="Library folder or postgresql://...?library=NAME (default: $TONEARM_LIBRARY, else the XDG data dir).",
    ),
]
WhereOpt = Annotated[
    str | None, typer.Option("--where", "-w", help="SQL-like filter, e.g. \"genre = 'Jazz' AND year >= 1990\".")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
WorkersOpt = Annotated[int, typer.Option("--workers", "-j", help="Parallel analysis processes (Ray: actors).")]
DEFAULT_WORKERS = max(1, os.cpu_count() or 2)
LlmUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--llm-url", help="OpenAI-compatible endpoint for emotions (key from $TONEARM_LLM_API_KEY); default offline."
    ),
]
LlmModelOpt = Annotated[str | None, typer.Option("--llm-model", help="Model name for --llm-url.")]
LlmTimeoutOpt = Annotated[float, typer.Option("--llm-timeout", help="Seconds to wait for the LLM per request.")]


def _handle_errors(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TonearmError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("interrupted: finished tracks are saved; run the same command again to resume")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _views_with_models(
    views: str | None, model_paths: list[str] | None, configured: dict[str, str] | None = None
) -> dict[str, str]:
    """The view -> analyzer map for ``--views``, with ``--model-path`` weights made visible to workers."""
    from tonearm.analyzers import get_analyzer, parse_views
    from tonearm.analyzers.external import ExternalModelAnalyzer, parse_model_paths, set_model_paths

    chosen = parse_views(views, configured)
    takes_path = [n for n in chosen.values() if isinstance(get_analyzer(n), ExternalModelAnalyzer)]
    if model_paths:
        set_model_paths(parse_model_paths(model_paths, takes_path))
    for name in takes_path:
        get_analyzer(name).model_path()  # fail before any work when the weights are not given or missing
    return chosen


def _open(library: str | None, create: bool = False):
    from tonearm.store import open_store

    return open_store(resolve_library(library), create=create)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


class _RichProgress:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("analysing", total=None)

    def start(self, total: int) -> None:
        self.progress.update(self.task, total=total)

    def advance(self, path: str, status: str) -> None:
        self.progress.update(self.task, advance=1, description=f"{status:>8} {os.path.basename(path)[:40]}")


@app.command()
@_handle_errors
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
    store = _open(library, create=True)
    configured = _views_with_models(views, model_path, store.get_meta("views"))
    indexer = Indexer(store, configured, backend_from_settings(llm_url, llm_model, llm_timeout))
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
            progress=_RichProgress(progress),
            engine=runner,
        )
    if json_out:
        print(json.dumps(report.to_json(), indent=2))
        return
    console.print(
        f"[bold]{report.scanned}[/] files: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.metadata_refreshed} metadata refreshed, "
        f"{report.removed} removed, {len(report.failed)} failed"
        + (f", {report.skipped_failed} skipped (failed before)" if report.skipped_failed else "")
        + f" in {report.elapsed:.1f} s"
    )
    if report.analysis_cpu_seconds > 0:
        console.print(
            f"analysed {report.analysed_seconds:.0f} s of audio at "
            f"{report.analysed_seconds / report.analysis_cpu_seconds:.1f} s/s per worker"
        )
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


def _results_table(payload: dict[str, Any]) -> Table:
    q = payload["query"]
    label = q.get("title") or os.path.basename(q.get("path") or q.get("target") or "")
    table = Table(title=f"Similar to {label} ({q['view']} view)", title_justify="left")
    matched = any("match" in r for r in payload["results"])
    for col in ("#", "score", "title", "artist", "album", "id") + (("matched at",) if matched else ()):
        table.add_column(col, justify="right" if col in ("#", "score") else "left")
    for r in payload["results"]:
        title = r.get("title") or os.path.basename(r.get("path") or "")
        cells = [str(r["rank"]), f"{r['score']:.3f}", title, r.get("artist") or "", r.get("album") or "", r["id"]]
        if matched:
            m = r.get("match")
            cells.append(f"{m['start']:.1f}-{m['end']:.1f} s" if m else "")
        table.add_row(*cells)
    return table


@app.command()
@_handle_errors
def similar(
    target: Annotated[str, typer.Argument(help="Track id, indexed path, or any audio file.")],
    k: Annotated[int, typer.Option("-k", help="Number of results.")] = 10,
    where: WhereOpt = None,
    min_score: Annotated[float | None, typer.Option(help="Drop results scoring below this (cosine, -1..1).")] = None,
    view: Annotated[
        str, typer.Option(help="Which view to compare: sound, melody, words (talks like this), mood.")
    ] = "sound",
    hubness: Annotated[
        bool,
        typer.Option("--hubness", help="Re-rank with the CSLS hubness correction (demotes tracks near everything)."),
    ] = False,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Tracks that sound like TARGET (never TARGET itself, nor a copy of it; each recording once)."""
    from tonearm.search.similar import dumps
    from tonearm.search.similar import similar as run_similar

    payload = run_similar(_open(library), target, k=k, where=where, min_score=min_score, view=view, hubness=hubness)
    if json_out:
        print(dumps(payload))
    else:
        console.print(_results_table(payload))


@app.command()
@_handle_errors
def hum(
    file: Annotated[str, typer.Argument(help="A recording of you humming, singing or whistling the tune.")],
    k: Annotated[int, typer.Option("-k", help="Number of results.")] = 10,
    where: WhereOpt = None,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Find the track a hummed, sung or whistled tune comes from (any key, any tempo)."""
    from tonearm.search.hum import hum_search
    from tonearm.search.similar import dumps

    payload = hum_search(_open(library), file, k=k, where=where)
    if json_out:
        print(dumps(payload))
        return
    console.print(_results_table(payload))


def _search_table(payload: dict[str, Any]) -> Table:
    q = payload["query"]
    title = f"{q['mode']} search: {q['text']}"
    table = Table(title=title, title_justify="left", caption=q.get("explain"), caption_justify="left")
    for col in ("#", "score", "title", "artist", "why", "id"):
        table.add_column(col, justify="right" if col in ("#", "score") else "left", overflow="fold")
    for r in payload["results"]:
        why = []
        if r.get("modes"):
            why.append("found by " + ", ".join(f"{m} #{rank}" for m, rank in r["modes"].items()))
        if r.get("passage"):
            at = f"[{_clock(r['start'])}] " if r.get("start") is not None else ""
            why.append(f"{at}{r['passage'][:140]}")
        if r.get("emotions"):
            why.append(
                f"emotions: {r['emotions']}" + (f"; popularity {r['popularity']:g}" if r.get("popularity") else "")
            )
        if r.get("tags"):
            why.append("tags: " + ", ".join(f"{t} {p:.2f}" for t, p in r["tags"].items()))
        title_ = r.get("title") or os.path.basename(r.get("path") or "")
        table.add_row(str(r["rank"]), f"{r['score']:.3f}", title_, r.get("artist") or "", "\n".join(why), r["id"])
    return table


def _clock(seconds: float) -> str:
    m, s_ = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s_:02d}" if h else f"{m}:{s_:02d}"


@app.command()
@_handle_errors
def search(
    text: Annotated[str, typer.Argument(help="What you are looking for, in words (any language).")],
    mode: Annotated[
        str,
        typer.Option(
            help="auto (fuse all), words (lyrics/transcripts), mood (emotions), tags (sound tags), "
            "audio (CLAP text-to-audio; needs a CLAP sound view).",
        ),
    ] = "auto",
    k: Annotated[int, typer.Option("-k", help="Number of results.")] = 10,
    where: WhereOpt = None,
    min_score: Annotated[float | None, typer.Option(help="Drop results below this score (mood default: 0.9).")] = None,
    llm_url: LlmUrlOpt = None,
    llm_model: LlmModelOpt = None,
    llm_timeout: LlmTimeoutOpt = 60.0,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Search by meaning: spoken words and lyrics, mood ("rainy Sunday, heartbroken but hopeful"), or sound tags."""
    from tonearm.search.similar import dumps
    from tonearm.search.text import TextQuery
    from tonearm.search.text import search as run_search
    from tonearm.words.emotions import backend_from_settings

    backend = backend_from_settings(llm_url, llm_model, llm_timeout) if llm_url else None
    payload = run_search(_open(library), TextQuery(text, k, where, min_score), mode, backend)
    if json_out:
        print(dumps(payload))
    else:
        console.print(_search_table(payload))


def _playlist_out(payload: dict[str, Any], export: str | None, json_out: bool, title: str) -> None:
    from tonearm.search.radio import export_playlist
    from tonearm.search.similar import dumps

    if export:
        fmt = export_playlist(payload, export)
        err_console.print(f"wrote {len(payload['results'])} tracks to {export} ({fmt})")
    if json_out:
        print(dumps(payload))
        return
    table = Table("#", "title", "artist", "album", "score", "id", title=title, title_justify="left")
    for r in payload["results"]:
        table.add_row(str(r["rank"]), r.get("title") or os.path.basename(r.get("path") or ""), r.get("artist") or "",
                      r.get("album") or "", f"{r['score']:.3f}", r["id"])  # fmt: skip
    console.print(table)


ExportOpt = Annotated[str | None, typer.Option("--export", help="Also write the list as .m3u8, .xspf or .json.")]


@app.command()
@_handle_errors
def radio(
    seeds: Annotated[list[str], typer.Argument(help="Seed tracks (ids or indexed paths).")],
    avoid: Annotated[list[str] | None, typer.Option("--avoid", help="Steer away from this track (repeatable).")] = None,
    length: Annotated[int, typer.Option(help="Tracks in the list.")] = 20,
    weights: Annotated[
        str | None, typer.Option(help="View weights, e.g. sound=1,melody=0.5,words=0.5,mood=0.2.")
    ] = None,
    where: WhereOpt = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Same number, same list (default: varied).")] = None,
    artist_window: Annotated[int, typer.Option(help="At most one track per artist in this many in a row.")] = 5,
    diversity: Annotated[float, typer.Option(help="0 = closest tracks only, 1 = as varied as possible.")] = 0.3,
    export: ExportOpt = None,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Endless-radio style list from seed tracks: no seeds, no repeats, artists spaced out, filters kept."""
    from tonearm.search.radio import RadioSettings, parse_weights
    from tonearm.search.radio import radio as run_radio

    if not 0.0 <= diversity <= 1.0:
        raise TonearmError("--diversity must be between 0 and 1")
    settings = RadioSettings(length, parse_weights(weights) if weights else None, where, seed, diversity,
                             artist_window)  # fmt: skip
    payload = run_radio(_open(library), seeds, avoid or [], settings)
    _playlist_out(
        payload, export, json_out, f"Radio from {', '.join(s['title'] or s['id'] for s in payload['query']['seeds'])}"
    )


history_app = typer.Typer(help="Listening history: import plays from ListenBrainz, Last.fm or a log.",
                          no_args_is_help=True)  # fmt: skip
app.add_typer(history_app, name="history")


@history_app.command("import")
@_handle_errors
def history_import(
    file: Annotated[str, typer.Argument(help="ListenBrainz JSON/JSONL, Last.fm CSV, or a CSV/TSV play log.")],
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Match plays to library tracks (MusicBrainz id, then artist + title) and add them to the history."""
    from dataclasses import asdict

    from tonearm.library.history import import_history

    rep = import_history(_open(library), file)
    if json_out:
        print(json.dumps(asdict(rep) | {"matched": rep.matched}, indent=2))
        return
    console.print(f"{rep.plays} plays: {rep.matched} matched ({rep.matched_mbid} by MusicBrainz id, "
                  f"{rep.matched_name} by artist + title, {rep.matched_path} by path), {rep.unmatched} not in the "
                  "library")  # fmt: skip
    for example in rep.unmatched_examples:
        console.print(f"  not found: {escape(example)}", highlight=False)


@app.command("for-you")
@_handle_errors
def for_you(
    length: Annotated[int, typer.Option(help="Tracks in the list.")] = 20,
    recent_days: Annotated[float, typer.Option(help="Leave out tracks played in the last N days.")] = 30.0,
    where: WhereOpt = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Same number, same list (default: varied).")] = None,
    export: ExportOpt = None,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Recommendations from your listening history, without what you played recently."""
    from tonearm.search.radio import RadioSettings
    from tonearm.search.radio import for_you as run_for_you

    payload = run_for_you(_open(library), RadioSettings(length, None, where, seed), recent_days)
    q = payload["query"]
    if not json_out:
        err_console.print(f"from {q['history_tracks']} tracks in your history ({q['unmatched_plays']} plays did not "
                          f"match the library); {q['excluded_recent']} played in the last {recent_days:g} days "
                          "left out")  # fmt: skip
    _playlist_out(payload, export, json_out, "For you")


@app.command("path")
@_handle_errors
def path_(
    start: Annotated[str, typer.Argument(help="First track (id or indexed path).")],
    end: Annotated[str, typer.Argument(help="Last track.")],
    steps: Annotated[int, typer.Option(help="Tracks between the two.")] = 10,
    view: Annotated[str, typer.Option(help="View to travel through.")] = "sound",
    where: WhereOpt = None,
    export: ExportOpt = None,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A smooth sequence of tracks leading from START to END."""
    from tonearm.search.radio import song_path

    payload = song_path(_open(library), start, end, steps, view, where)
    q = payload["query"]
    _playlist_out(payload, export, json_out, f"Path from {q['from']['title'] or q['from']['id']} to "
                                             f"{q['to']['title'] or q['to']['id']}")  # fmt: skip


@app.command()
@_handle_errors
def playlist(
    mood: Annotated[str | None, typer.Option("--mood", help="How it should feel, in a sentence.")] = None,
    text: Annotated[str | None, typer.Option("--text", help="What it should be about or sound like.")] = None,
    length: Annotated[int, typer.Option(help="Tracks in the list.")] = 20,
    where: WhereOpt = None,
    artist_window: Annotated[int, typer.Option(help="At most one track per artist in this many in a row.")] = 5,
    export: ExportOpt = None,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A playlist from a mood or a description (the search modes), artists spaced out."""
    from tonearm.search.radio import text_playlist

    if bool(mood) == bool(text):
        raise TonearmError("give exactly one of --mood or --text")
    payload = text_playlist(_open(library), mood or text or "", "mood" if mood else "auto", length, where,
                            artist_window)  # fmt: skip
    _playlist_out(payload, export, json_out, f"Playlist: {mood or text}")


@app.command()
@_handle_errors
def tracks(
    where: WhereOpt = None,
    limit: Annotated[int | None, typer.Option(help="At most this many rows.")] = None,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List indexed tracks, optionally filtered."""
    store = _open(library)
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


@app.command()
@_handle_errors
def info(
    track: Annotated[str, typer.Argument(help="Track id or indexed path.")],
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Everything the library knows about one track."""
    from tonearm.errors import NotFoundError
    from tonearm.library.display import readable_row
    from tonearm.search.similar import find_track

    row = find_track(_open(library), track)
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


def _fetch_settings(library: str, media: str | None, rate_limit: str | None, concurrency: int, max_filesize_mb: int):
    from pathlib import Path

    from tonearm.library.fetch import FetchSettings

    rate = None
    if rate_limit:
        units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
        text = rate_limit.strip().lower().rstrip("b/s").rstrip("/")
        try:
            rate = int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(float(text))
        except (ValueError, IndexError):
            raise TonearmError(f"--rate-limit {rate_limit!r}: use bytes per second, e.g. 500K or 2M") from None
    if concurrency < 1:
        raise TonearmError("--concurrency must be at least 1")
    media_dir = Path(media).expanduser().resolve() if media else Path(library) / "media"
    return FetchSettings(media_dir, rate, concurrency, max_filesize_mb << 20)


def _index_new(store, paths: list[str], workers: int) -> None:
    from tonearm.library.indexer import Indexer

    if not paths:
        return
    report = Indexer(store).run(paths, workers=workers)  # with the library's own views
    console.print(f"indexed: {report.added} added, {report.updated} updated, {len(report.failed)} failed")
    for path, reason in report.failed:
        err_console.print(f"[red]index failed[/] {escape(path)}: {escape(reason)}", highlight=False)


MediaOpt = Annotated[str | None, typer.Option("--media", help="Where downloads go (default: <library>/media).")]
RateOpt = Annotated[str | None, typer.Option(help="Download rate limit per file, e.g. 500K, 2M (bytes/s).")]
ConcOpt = Annotated[int, typer.Option(help="Downloads at a time.")]
SizeOpt = Annotated[int, typer.Option(help="Largest file to download, MiB.")]
DiskOpt = Annotated[int | None, typer.Option(help="Stop downloading when the media folder reaches this, MiB.")]


@app.command()
@_handle_errors
def add(
    urls: Annotated[list[str] | None, typer.Argument(help="Video or audio page URLs, or direct media links.")] = None,
    from_file: Annotated[str | None, typer.Option("--from-file", help="A text file with one URL per line.")] = None,
    library: LibraryOpt = None,
    media: MediaOpt = None,
    rate_limit: RateOpt = None,
    concurrency: ConcOpt = 2,
    max_filesize_mb: SizeOpt = 2048,
    max_disk_mb: DiskOpt = None,
    workers: WorkersOpt = DEFAULT_WORKERS,
    json_out: JsonOpt = False,
) -> None:
    """Download the audio of URLs (yt-dlp) into the library and index it; added URLs are skipped."""
    from tonearm.library.fetch import fetch_all

    wanted = list(urls or [])
    if from_file:
        try:
            with open(from_file, encoding="utf-8") as f:
                wanted += [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
        except OSError as exc:
            raise TonearmError(f"cannot read {from_file}: {exc.strerror}") from None
    if not wanted:
        raise TonearmError("give at least one URL (or --from-file)")
    lib = resolve_library(library)
    store = _open(lib, create=True)
    settings = _fetch_settings(lib, media, rate_limit, concurrency, max_filesize_mb)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console, disable=json_out) as progress:  # fmt: skip
        task = progress.add_task("downloading", total=len(wanted))
        results = fetch_all(
            store, wanted, settings, lambda r: progress.update(task, advance=1, description=r.url[-50:]),
            None if max_disk_mb is None else max_disk_mb << 20,
        )  # fmt: skip
    ok = [r for r in results if r.ok and not r.skipped]
    if json_out:
        print(json.dumps([{"url": r.url, "path": r.path, "skipped": r.skipped, "error": r.reason} for r in results],
                         indent=2))  # fmt: skip
    else:
        skipped = sum(r.skipped for r in results)
        failed = [r for r in results if r.reason]
        console.print(f"{len(ok)} downloaded, {skipped} already added, {len(failed)} failed")
        for r in failed:
            err_console.print(f"[red]failed[/] {escape(r.url)}: {escape(r.reason or '')}", highlight=False)
    _index_new(store, [r.path for r in ok if r.path], workers)


feed_app = typer.Typer(help="Podcast feeds: subscribe, fetch new episodes, list.", no_args_is_help=True)
app.add_typer(feed_app, name="feed")


@feed_app.command("add")
@_handle_errors
def feed_add(
    url: Annotated[str, typer.Argument(help="RSS or Atom feed URL.")],
    latest: Annotated[int | None, typer.Option(help="Keep only the newest N episodes of this feed.")] = None,
    library: LibraryOpt = None,
    media: MediaOpt = None,
    rate_limit: RateOpt = None,
    max_filesize_mb: SizeOpt = 2048,
    max_disk_mb: DiskOpt = None,
    workers: WorkersOpt = DEFAULT_WORKERS,
) -> None:
    """Subscribe to a feed and fetch its episodes."""
    from tonearm.library.feeds import subscribe

    lib = resolve_library(library)
    store = _open(lib, create=True)
    entry = subscribe(store, url, latest)
    console.print(f"subscribed to {entry['title']}")
    _update_feeds(store, [url], _fetch_settings(lib, media, rate_limit, 1, max_filesize_mb), max_disk_mb, workers)


@feed_app.command("update")
@_handle_errors
def feed_update(
    urls: Annotated[list[str] | None, typer.Argument(help="Feeds to update (default: --all).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Update every subscribed feed.")] = False,
    library: LibraryOpt = None,
    media: MediaOpt = None,
    rate_limit: RateOpt = None,
    max_filesize_mb: SizeOpt = 2048,
    max_disk_mb: DiskOpt = None,
    workers: WorkersOpt = DEFAULT_WORKERS,
) -> None:
    """Fetch new episodes of subscribed feeds and index them."""
    from tonearm.library.feeds import FEEDS_META

    lib = resolve_library(library)
    store = _open(lib, create=True)
    subscribed = list((store.get_meta(FEEDS_META) or {}).keys())
    chosen = subscribed if all_ or not urls else list(urls)
    if not chosen:
        raise TonearmError("no feeds subscribed; use `tonearm feed add URL`")
    _update_feeds(store, chosen, _fetch_settings(lib, media, rate_limit, 1, max_filesize_mb), max_disk_mb, workers)


def _update_feeds(store, urls: list[str], settings, max_disk_mb: int | None, workers: int) -> None:
    from tonearm.library.feeds import update_feed

    new_paths = []
    for url in urls:
        try:
            rep = update_feed(store, url, settings, None if max_disk_mb is None else max_disk_mb << 20)
        except TonearmError as exc:
            err_console.print(f"[red]feed failed[/] {escape(url)}: {escape(str(exc))}", highlight=False)
            continue
        ok = [r for r in rep.new if r.ok]
        console.print(f"{rep.title}: {len(ok)} new episodes, {len(rep.new) - len(ok)} failed, "
                      f"{len(rep.skipped)} skipped")  # fmt: skip
        for r in rep.new:
            if not r.ok:
                err_console.print(f"[red]failed[/] {escape(r.url)}: {escape(r.reason or '')}", highlight=False)
        for link, why in rep.skipped:
            err_console.print(f"[yellow]skipped[/] {escape(link)}: {escape(why)}", highlight=False)
        new_paths += [r.path for r in ok if r.path]
    _index_new(store, new_paths, workers)


@feed_app.command("list")
@_handle_errors
def feed_list(library: LibraryOpt = None, json_out: JsonOpt = False) -> None:
    """Subscribed feeds with their episode counts."""
    from tonearm.library.feeds import feed_summaries

    rows = feed_summaries(_open(library))
    if json_out:
        print(json.dumps(rows, indent=2))
        return
    table = Table("feed", "title", "episodes", "failed", "latest", title=f"{len(rows)} feeds", title_justify="left")
    for r in rows:
        table.add_row(r["url"], r["title"] or "", str(r["episodes"]), str(r["failed"]), str(r["latest"] or "all"))
    console.print(table)


@app.command()
@_handle_errors
def serve(
    folders: Annotated[
        list[str] | None, typer.Argument(help="Folders that index jobs started from the web app may scan.")
    ] = None,
    library: LibraryOpt = None,
    host: Annotated[str, typer.Option(help="Interface to bind; anything but loopback requires a token.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    token: Annotated[
        str | None, typer.Option(help="Token for uploads and writes when not on loopback (default: generated).")
    ] = None,
    cors: Annotated[list[str] | None, typer.Option(help="Allowed CORS origin (repeatable); default: none.")] = None,
    max_upload_mb: Annotated[int, typer.Option(help="Largest accepted upload, MiB.")] = 50,
    workers: Annotated[int, typer.Option("--workers", "-j", help="Analysis processes for index jobs.")] = max(
        1, (os.cpu_count() or 2)
    ),
) -> None:
    """Serve the REST API (OpenAPI at /docs) and the web app for a library."""
    import secrets

    import uvicorn

    from tonearm.api.app import ServerConfig, create_app

    lib = resolve_library(library)
    _open(lib, create=True).close()
    missing = [f for f in folders or [] if not os.path.isdir(f)]
    if missing:
        raise TonearmError(f"no such folder: {', '.join(missing)}")
    config = ServerConfig(lib, list(folders or []), host, token, list(cors or []), max_upload_mb, workers)
    if config.requires_token and not config.token:
        config.token = secrets.token_urlsafe(18)
        console.print(f"token for uploads and writes: [bold]{config.token}[/]")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    console.print(f"tonearm serving {lib} at [bold]http://{shown}:{port}/[/] (API docs: /docs)")
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning")


@app.command()
@_handle_errors
def duplicates(library: LibraryOpt = None, json_out: JsonOpt = False) -> None:
    """Recordings held in several files (re-encodes, other bitrates): the kept copy first, never deleted."""
    from tonearm.library.duplicates import duplicate_groups

    groups = duplicate_groups(_open(library))
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


store_app = typer.Typer(help="Library storage: copy between backends, shard with Citus.", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("copy")
@_handle_errors
def store_copy(
    src: Annotated[str, typer.Argument(help="Source library: a folder or postgresql://...?library=NAME")],
    dst: Annotated[str, typer.Argument(help="Destination library (created if missing)")],
    json_out: JsonOpt = False,
) -> None:
    """Copy a library between LanceDB and PostgreSQL (either way), resumably; verified by counts and checksums."""
    from tonearm.store.copy import copy_library

    source, dest = _open(src), _open(dst, create=True)
    with Progress(SpinnerColumn(), TextColumn("copying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, disable=json_out) as progress:  # fmt: skip
        task = progress.add_task("copy", total=None)
        report = copy_library(source, dest, lambda done, total: progress.update(task, completed=done, total=total))
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
    if not report.verified:
        raise TonearmError("verification failed: the destination differs from the source (run the copy again)")
    if not json_out:
        console.print("[green]verified[/]: same rows, same checksum")


@store_app.command("distribute")
@_handle_errors
def store_distribute(
    library: LibraryOpt = None,
    shards: Annotated[int | None, typer.Option(help="Number of shards (Citus default: 32).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the SQL without running it.")] = False,
) -> None:
    """Shard a PostgreSQL library's tracks table over a Citus cluster (by track id)."""
    from tonearm.store.distribute import distribute
    from tonearm.store.postgres import PostgresStore

    store = _open(library)
    if not isinstance(store, PostgresStore):
        raise TonearmError("only PostgreSQL libraries can be distributed (--library postgresql://...)")
    for stmt in distribute(store, shards, dry_run=dry_run):
        console.print(stmt + ";", highlight=False, markup=False)


@app.command()
@_handle_errors
def stats(
    failed: Annotated[bool, typer.Option("--failed", help="List files that could not be indexed.")] = False,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Library size, views, analyzers and failures."""
    store = _open(library)
    failures = sorted(store.failures(), key=lambda f: f["path"])
    info_ = store.info()
    durations = [r["duration"] or 0.0 for r in store.scan(columns=["duration"])]
    info_.update(
        total_duration_s=round(sum(durations), 1),
        analyzers=store.get_meta("views") or {},
        failed=len(failures),
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


@app.command()
@_handle_errors
def demo(
    dir: Annotated[str, typer.Option("--dir", help="Where to render the demo audio and keep its library.")] = (
        "demo-data"
    ),
    tunes: Annotated[int, typer.Option(help="How many tunes to render.")] = 100,
    workers: WorkersOpt = DEFAULT_WORKERS,
) -> None:
    """Render a demo library from the music21 corpus, index it, and run an example query."""
    from tonearm.demo import run_demo

    run_demo(dir, tunes=tunes, workers=workers, console=console, err_console=err_console)


@app.command("eval")
@_handle_errors
def eval_(
    size: Annotated[str, typer.Option(help="tiny (CI), small (reference, <15 min), large.")] = "small",
    tasks: Annotated[
        str, typer.Option(help="Comma-separated: style,instrument,versions,grouping,qbe,qbh,text,speed.")
    ] = "all",
    out: Annotated[str, typer.Option(help="Where report.json / report.md and the scratch library go.")] = "eval-out",
    cache: Annotated[str | None, typer.Option(help="Corpus cache (default: <out>/../eval-cache).")] = None,
    workers: WorkersOpt = DEFAULT_WORKERS,
    views: Annotated[
        str | None, typer.Option(help="Score other analyzers than the defaults, e.g. sound=dsp or sound=panns.")
    ] = None,
    model_path: Annotated[
        list[str] | None, typer.Option("--model-path", help="Weights for analyzers you supply: NAME=PATH.")
    ] = None,
) -> None:
    """Build the benchmark corpus, index it with the chosen analyzers (default: the shipped ones), score every task."""
    from pathlib import Path

    from tonearm.eval.corpus import SIZES
    from tonearm.eval.harness import ALL_TASKS, run_eval

    if size not in SIZES:
        raise TonearmError(f"--size must be one of {', '.join(SIZES)}")
    chosen = list(ALL_TASKS) if tasks == "all" else [t.strip() for t in tasks.split(",") if t.strip()]
    unknown = [t for t in chosen if t not in ALL_TASKS]
    if unknown:
        raise TonearmError(f"unknown task(s) {', '.join(unknown)}; choose from {', '.join(ALL_TASKS)}")
    chosen_views = _views_with_models(views, model_path) if views or model_path else None
    out_dir = Path(out).resolve()
    cache_dir = Path(cache).resolve() if cache else out_dir.parent / "eval-cache"
    run_eval(
        size,
        chosen,
        out_dir,
        cache_dir,
        workers,
        log=lambda m: err_console.print(m, highlight=False),
        views=chosen_views,
    )
    console.print(f"wrote {out_dir / 'report.md'} and {out_dir / 'report.json'}")
    console.print((out_dir / "report.md").read_text(), markup=False, highlight=False)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except BrokenPipeError:  # `tonearm tracks | head`
        sys.stderr.close()


if __name__ == "__main__":
    main()
