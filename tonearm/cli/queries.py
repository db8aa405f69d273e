"""Query commands: tracks that sound like a track or file, a hummed tune, a sentence."""

from __future__ import annotations

from typing import Annotated

import typer

from tonearm.cli.common import (
    JsonOpt,
    LibraryOpt,
    LlmModelOpt,
    LlmTimeoutOpt,
    LlmUrlOpt,
    WhereOpt,
    console,
    handle_errors,
    open_library,
)
from tonearm.cli.render import identify_table, results_table, search_table
from tonearm.errors import TonearmError


@handle_errors
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
    match: Annotated[
        str,
        typer.Option(
            "--match",
            help="vector: compare whole-track vectors; sets: compare the tracks' stretches (sound view only).",
        ),
    ] = "vector",
    candidates: Annotated[
        int | None,
        typer.Option(
            help="With --match sets: how many tracks to re-rank (default 200, or 0.8 × √tracks if more; "
            "more: nearer exact, slower)."
        ),
    ] = None,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Tracks that sound like TARGET (never TARGET itself, nor a copy of it; each recording once)."""
    from tonearm.search.results import dumps
    from tonearm.search.similar import similar as run_similar

    store = open_library(library)
    payload = run_similar(store, target, k=k, where=where, min_score=min_score, view=view, hubness=hubness,
                          match=match, candidates=candidates)  # fmt: skip
    if json_out:
        print(dumps(payload))
    else:
        console.print(results_table(payload))


@handle_errors
def hum(
    file: Annotated[str, typer.Argument(help="A recording of you humming, singing or whistling the tune.")],
    k: Annotated[int, typer.Option("-k", help="Number of results.")] = 10,
    where: WhereOpt = None,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Find the track a hummed, sung or whistled tune comes from (any key, any tempo)."""
    from tonearm.search.hum import hum_search
    from tonearm.search.results import dumps

    payload = hum_search(open_library(library), file, k=k, where=where)
    if json_out:
        print(dumps(payload))
        return
    console.print(results_table(payload))


@handle_errors
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
    min_score: Annotated[float | None, typer.Option(help="Drop results below this score (mood: 0.72).")] = None,
    llm_url: LlmUrlOpt = None,
    llm_model: LlmModelOpt = None,
    llm_timeout: LlmTimeoutOpt = 60.0,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
    local: Annotated[
        bool, typer.Option("--local", help="Answer in this process even when a `tonearm serve` of the library runs.")
    ] = False,
) -> None:
    """Search by meaning: spoken words and lyrics, mood ("rainy Sunday, heartbroken but hopeful"), or sound tags.

    When a `tonearm serve` of the same library runs on this machine, it answers (its models are
    loaded: tens of milliseconds instead of a second or more); the output is the same. When none
    runs, this call answers itself and starts a quiet one that stops after 15 idle minutes
    (TONEARM_BACKGROUND=0 or --local: never).
    """
    from tonearm.cli import running
    from tonearm.config import resolve_library
    from tonearm.search.results import dumps

    lib = resolve_library(library)
    params = {"q": text, "mode": mode, "k": k, "where": where, "min_score": min_score}
    payload = None if local or llm_url else running.ask(lib, "/api/search", params)
    if payload is None:
        from tonearm.search.text import TextQuery
        from tonearm.search.text import search as run_search
        from tonearm.words.emotions import backend_from_settings

        backend = backend_from_settings(llm_url, llm_model, llm_timeout) if llm_url else None
        payload = run_search(open_library(lib), TextQuery(text, k, where, min_score), mode, backend)
        if not local:
            running.start_background(lib)  # the next query on this library is answered by it, quickly
    if json_out:
        print(dumps(payload))
    else:
        console.print(search_table(payload))


@handle_errors
def identify(
    clip: Annotated[str, typer.Argument(help="A recording of a track playing: 10 s is enough, 30 s are used.")],
    k: Annotated[int, typer.Option("-k", help="At most this many results (the same audio in several releases).")] = 5,
    probes: Annotated[
        bool, typer.Option("--probes/--no-probes", help="Also try speed and pitch changes when a plain lookup fails.")
    ] = True,
    library: LibraryOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Which track of the library a clip comes from, and where in it (landmark fingerprints).

    Exits 0 with empty results and a one-line message when nothing in the library matches.
    """
    import os

    from tonearm.search.identify import identify as run_identify
    from tonearm.search.results import dumps

    if not os.path.isfile(clip):
        raise TonearmError(f"no such file: {clip}")
    if k < 1:
        raise TonearmError("-k must be at least 1")
    payload = run_identify(open_library(library), clip, k=k, probes=probes)
    if json_out:
        print(dumps(payload))
        return
    if not payload["results"]:
        console.print(payload["query"]["message"], highlight=False)
        return
    console.print(identify_table(payload))


def register(app: typer.Typer) -> None:
    """Add this group's commands to the ``tonearm`` app, under "Find" in ``--help``."""
    panel = "Find"
    app.command(rich_help_panel=panel)(similar)
    app.command(rich_help_panel=panel)(hum)
    app.command(rich_help_panel=panel)(search)
    app.command(rich_help_panel=panel)(identify)
