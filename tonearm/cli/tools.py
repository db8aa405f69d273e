"""``tonearm demo`` (a library built from nothing) and ``tonearm eval`` (the benchmark harness)."""

from __future__ import annotations

from typing import Annotated

import typer

from tonearm.cli.common import DEFAULT_WORKERS, WorkersOpt, console, err_console, handle_errors, views_with_models
from tonearm.errors import TonearmError


@handle_errors
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


@handle_errors
def eval_(
    size: Annotated[str, typer.Option(help="tiny (CI), small (reference, <15 min), large.")] = "small",
    tasks: Annotated[
        str,
        typer.Option(
            help="Comma-separated: style,instrument,versions,grouping,qbe,identify,qbh,text,hubness,radio,"
            "duplicates,speed."
        ),
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
    adapt: Annotated[
        bool, typer.Option("--adapt/--no-adapt", help="Fit the sound view to the corpus's library (as `index`).")
    ] = True,
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
    chosen_views = views_with_models(views, model_path) if views or model_path else None
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
        adapt=adapt,
    )
    console.print(f"wrote {out_dir / 'report.md'} and {out_dir / 'report.json'}")
    console.print((out_dir / "report.md").read_text(), markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the ``tonearm`` app, under "Demo and benchmark" in ``--help``."""
    panel = "Demo and benchmark"
    app.command(rich_help_panel=panel)(demo)
    app.command("eval", rich_help_panel=panel)(eval_)
