"""What every command group shares: consoles, option types, error handling, opening a library.

Every user-facing error is a ``TonearmError``: ``handle_errors`` prints it as one line on stderr
with exit status 2, never as a traceback."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from tonearm.config import resolve_library
from tonearm.errors import TonearmError, storage_fault

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
ExportOpt = Annotated[str | None, typer.Option("--export", help="Also write the list as .m3u8, .xspf or .json.")]
SaveOpt = Annotated[
    str | None, typer.Option("--save", help="Also save the list as a playlist of this name (players and the web app).")
]
MediaOpt = Annotated[str | None, typer.Option("--media", help="Where downloads go (default: <library>/media).")]
RateOpt = Annotated[str | None, typer.Option(help="Download rate limit per file, e.g. 500K, 2M (bytes/s).")]
ConcOpt = Annotated[int, typer.Option(help="Downloads at a time.")]
SizeOpt = Annotated[int, typer.Option(help="Largest file to download, MiB.")]
DiskOpt = Annotated[int | None, typer.Option(help="Stop downloading when the media folder reaches this, MiB.")]


def handle_errors(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TonearmError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from None
        except (OSError, RuntimeError) as exc:  # a full or read-only disk under a command with no words for it
            fault = storage_fault(exc)
            if fault is None:
                raise
            err_console.print(f"[bold red]error:[/] {escape(str(fault))}", highlight=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("interrupted: finished tracks are saved; run the same command again to resume")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def views_with_models(
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


def open_library(library: str | None, create: bool = False):
    from tonearm.store import open_store

    return open_store(resolve_library(library), create=create)


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
