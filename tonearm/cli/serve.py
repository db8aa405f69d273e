"""``tonearm serve``: the REST API and the web app for a library."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from tonearm.cli.common import LibraryOpt, console, handle_errors, open_library
from tonearm.config import resolve_library
from tonearm.errors import TonearmError


@handle_errors
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
    open_library(lib, create=True).close()
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


def register(app: typer.Typer) -> None:
    """Add this group's commands to the ``tonearm`` app, under "Serve" in ``--help``."""
    panel = "Serve"
    app.command(rich_help_panel=panel)(serve)
