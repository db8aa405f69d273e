"""Recommendation commands: radio, song paths, mood/text playlists, listening history and for-you."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape

from tonearm.cli.common import (
    ExportOpt,
    JsonOpt,
    LibraryOpt,
    SaveOpt,
    WhereOpt,
    console,
    err_console,
    handle_errors,
    open_library,
)
from tonearm.cli.render import playlist_table
from tonearm.errors import TonearmError
from tonearm.store.base import Store


def _playlist_out(
    payload: dict[str, Any], export: str | None, json_out: bool, title: str, store: Store, save: str | None
) -> None:
    from tonearm.search.radio import export_playlist
    from tonearm.search.results import dumps

    if export:
        fmt = export_playlist(payload, export)
        err_console.print(f"wrote {len(payload['results'])} tracks to {export} ({fmt})")
    if save is not None:
        _save(payload, store, save)
    if json_out:
        print(dumps(payload))
        return
    console.print(playlist_table(payload, title))


def _save(payload: dict[str, Any], store: Store, name: str) -> None:
    """The list as a saved playlist, the kind Subsonic players and the web app show."""
    from tonearm.store import listening

    name = " ".join(name.split())
    if not name:
        raise TonearmError("--save needs a playlist name")
    ids = [r["id"] for r in payload["results"]]
    if not ids:
        raise TonearmError("nothing to save: the list is empty")
    listening.create_playlist(store, name, ids, "tonearm")
    err_console.print(f"saved {len(ids)} tracks as the playlist {escape(name)!r} (players and the web app list it)")


@handle_errors
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
    save: SaveOpt = None,
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
    store = open_library(library)
    payload = run_radio(store, seeds, avoid or [], settings)
    title = f"Radio from {', '.join(s['title'] or s['id'] for s in payload['query']['seeds'])}"
    _playlist_out(payload, export, json_out, title, store, save)


history_app = typer.Typer(help="Listening history: import plays from ListenBrainz, Last.fm or a log.",
                          no_args_is_help=True)  # fmt: skip


@history_app.command("import")
@handle_errors
def history_import(
    file: Annotated[str, typer.Argument(help="ListenBrainz JSON/JSONL, Last.fm CSV, or a CSV/TSV play log.")],
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Match plays to library tracks (MusicBrainz id, then artist + title) and add them to the history."""
    from dataclasses import asdict

    from tonearm.library.history import import_history

    rep = import_history(open_library(library), file)
    if json_out:
        print(json.dumps(asdict(rep) | {"matched": rep.matched}, indent=2))
        return
    console.print(f"{rep.plays} plays: {rep.matched} matched ({rep.matched_mbid} by MusicBrainz id, "
                  f"{rep.matched_name} by artist + title, {rep.matched_path} by path), {rep.unmatched} not in the "
                  "library")  # fmt: skip
    for example in rep.unmatched_examples:
        console.print(f"  not found: {escape(example)}", highlight=False)


@handle_errors
def for_you(
    length: Annotated[int, typer.Option(help="Tracks in the list.")] = 20,
    recent_days: Annotated[float, typer.Option(help="Leave out tracks played in the last N days.")] = 30.0,
    where: WhereOpt = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Same number, same list (default: varied).")] = None,
    export: ExportOpt = None,
    save: SaveOpt = None,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Recommendations from your listening history, without what you played recently."""
    from tonearm.search.radio import RadioSettings
    from tonearm.search.radio import for_you as run_for_you

    store = open_library(library)
    payload = run_for_you(store, RadioSettings(length, None, where, seed), recent_days)
    q = payload["query"]
    if not json_out:
        err_console.print(f"from {q['history_tracks']} tracks in your history ({q['unmatched_plays']} plays did not "
                          f"match the library); {q['excluded_recent']} played in the last {recent_days:g} days "
                          "left out")  # fmt: skip
    _playlist_out(payload, export, json_out, "For you", store, save)


@handle_errors
def path_(
    start: Annotated[str, typer.Argument(help="First track (id or indexed path).")],
    end: Annotated[str, typer.Argument(help="Last track.")],
    steps: Annotated[int, typer.Option(help="Tracks between the two.")] = 10,
    view: Annotated[str, typer.Option(help="View to travel through.")] = "sound",
    where: WhereOpt = None,
    export: ExportOpt = None,
    save: SaveOpt = None,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A smooth sequence of tracks leading from START to END."""
    from tonearm.search.radio import song_path

    store = open_library(library)
    payload = song_path(store, start, end, steps, view, where)
    q = payload["query"]
    title = f"Path from {q['from']['title'] or q['from']['id']} to {q['to']['title'] or q['to']['id']}"
    _playlist_out(payload, export, json_out, title, store, save)


@handle_errors
def playlist(
    mood: Annotated[str | None, typer.Option("--mood", help="How it should feel, in a sentence.")] = None,
    text: Annotated[str | None, typer.Option("--text", help="What it should be about or sound like.")] = None,
    length: Annotated[int, typer.Option(help="Tracks in the list.")] = 20,
    where: WhereOpt = None,
    artist_window: Annotated[int, typer.Option(help="At most one track per artist in this many in a row.")] = 5,
    export: ExportOpt = None,
    save: SaveOpt = None,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A playlist from a mood or a description (the search modes), artists spaced out."""
    from tonearm.search.radio import text_playlist

    if bool(mood) == bool(text):
        raise TonearmError("give exactly one of --mood or --text")
    store = open_library(library)
    payload = text_playlist(store, mood or text or "", "mood" if mood else "auto", length, where, artist_window)
    _playlist_out(payload, export, json_out, f"Playlist: {mood or text}", store, save)


@handle_errors
def playlists(
    name: Annotated[
        str | None, typer.Argument(help="A saved playlist's name or id: show (or export) its tracks.")
    ] = None,
    export: ExportOpt = None,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Playlists saved by players (Subsonic) or the web app; with NAME, one playlist's tracks."""
    from tonearm.search.radio import saved_playlist, saved_playlists

    store = open_library(library)
    if name is None:
        rows = saved_playlists(store)
        if json_out:
            print(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        from rich.table import Table

        table = Table("name", "songs", "id", title=f"{len(rows)} saved playlists", title_justify="left")
        for r in rows:
            table.add_row(r["name"], str(r["songs"]), r["id"])
        console.print(table)
        return
    payload = saved_playlist(store, name)
    _playlist_out(payload, export, json_out, f"Playlist: {payload['query']['name']}", store, None)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the ``tonearm`` app, under "Recommend" in ``--help``."""
    panel = "Recommend"
    app.command(rich_help_panel=panel)(radio)
    app.command("for-you", rich_help_panel=panel)(for_you)
    app.command("path", rich_help_panel=panel)(path_)
    app.command(rich_help_panel=panel)(playlist)
    app.command(rich_help_panel=panel)(playlists)
    app.add_typer(history_app, name="history", rich_help_panel=panel)
