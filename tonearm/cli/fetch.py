"""Commands that bring audio from the web into the library: URLs (yt-dlp) and podcast feeds."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tonearm.cli.common import (
    DEFAULT_WORKERS,
    ConcOpt,
    DiskOpt,
    JsonOpt,
    LibraryOpt,
    MediaOpt,
    RateOpt,
    SizeOpt,
    WorkersOpt,
    console,
    err_console,
    handle_errors,
    open_library,
)
from tonearm.config import resolve_library
from tonearm.errors import TonearmError


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


@handle_errors
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
    store = open_library(lib, create=True)
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
    # Downloads added before but never indexed (a run stopped by a full disk after them) are indexed now.
    unindexed = [r.path for r in results if r.skipped and r.path and store.find_by_path(r.path) is None]
    _index_new(store, [r.path for r in ok if r.path] + unindexed, workers)


feed_app = typer.Typer(help="Podcast feeds: subscribe, fetch new episodes, list.", no_args_is_help=True)


@feed_app.command("add")
@handle_errors
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
    store = open_library(lib, create=True)
    entry = subscribe(store, url, latest)
    console.print(f"subscribed to {entry['title']}")
    _update_feeds(store, [url], _fetch_settings(lib, media, rate_limit, 1, max_filesize_mb), max_disk_mb, workers)


@feed_app.command("update")
@handle_errors
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
    store = open_library(lib, create=True)
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
@handle_errors
def feed_list(library: LibraryOpt = None, json_out: JsonOpt = False) -> None:
    """Subscribed feeds with their episode counts."""
    from tonearm.library.feeds import feed_summaries

    rows = feed_summaries(open_library(library))
    if json_out:
        print(json.dumps(rows, indent=2))
        return
    table = Table("feed", "title", "episodes", "failed", "latest", title=f"{len(rows)} feeds", title_justify="left")
    for r in rows:
        table.add_row(r["url"], r["title"] or "", str(r["episodes"]), str(r["failed"]), str(r["latest"] or "all"))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the ``tonearm`` app, under "Add audio" in ``--help``."""
    panel = "Add audio"
    app.command(rich_help_panel=panel)(add)
    app.add_typer(feed_app, name="feed", rich_help_panel=panel)
