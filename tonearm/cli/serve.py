"""``tonearm serve``: the REST API and the web app for a library."""

from __future__ import annotations

import os
import threading
import time
from typing import Annotated, Any

import typer

from tonearm.cli.common import LibraryOpt, console, handle_errors, open_library
from tonearm.cli.running import announced
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
    port: Annotated[
        int, typer.Option(help="TCP port (0: any free port, announced in the library).", min=0, max=65535)
    ] = 8000,
    token: Annotated[
        str | None, typer.Option(help="Token for uploads and writes when not on loopback (default: generated).")
    ] = None,
    cors: Annotated[list[str] | None, typer.Option(help="Allowed CORS origin (repeatable); default: none.")] = None,
    max_upload_mb: Annotated[int, typer.Option(help="Largest accepted upload, MiB.")] = 50,
    workers: Annotated[int, typer.Option("--workers", "-j", help="Analysis processes for index jobs.")] = max(
        1, (os.cpu_count() or 2)
    ),
    subsonic: Annotated[
        bool,
        typer.Option(
            "--subsonic/--no-subsonic", help="Serve the OpenSubsonic API at /rest for players (or $TONEARM_SUBSONIC=1)."
        ),
    ] = False,
    subsonic_user: Annotated[str, typer.Option(help="The Subsonic user name players log in with.")] = "tonearm",
    idle_exit: Annotated[
        float, typer.Option(help="Stop after this many seconds without a request (0: never).", min=0)
    ] = 0.0,
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
    config.subsonic = subsonic or os.environ.get("TONEARM_SUBSONIC", "").lower() in ("1", "true", "yes")
    config.subsonic_user = subsonic_user
    if config.requires_token and not config.token:
        config.token = secrets.token_urlsafe(18)
        console.print(f"token for uploads and writes: [bold]{config.token}[/]")
    # Bind before saying anything: the port printed and announced is the one served (port 0: a free one),
    # and a port in use or an address this machine lacks is a one-line error, not a line claiming to serve.
    import socket

    try:
        sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:  # socket.gaierror (an unknown host name) is one too
        reason = str(exc.strerror or exc).split(" (while attempting")[0].lower()  # create_server repeats the address
        raise TonearmError(f"cannot listen on {host} port {port}: {reason}") from None
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    console.print(f"tonearm serving {lib} at [bold]http://{shown}:{port}/[/] (API docs: /docs)")
    if config.subsonic:
        from tonearm.api.subsonic import auth

        creds, created = auth.load(lib, subsonic_user)
        where = (
            "from $TONEARM_SUBSONIC_SECRET"
            if os.environ.get("TONEARM_SUBSONIC_SECRET")
            else (f"new, stored in {auth.credentials_file(lib)}" if created else "`tonearm subsonic show` prints it")
        )
        console.print(f"Subsonic API for players at [bold]http://{shown}:{port}/[/] (user [bold]{creds.user}[/], "
                      f"secret {creds.secret if created else '(' + where + ')'}"
                      f"{'; ' + where if created else ''})", highlight=False)  # fmt: skip
        if config.requires_token:
            console.print("[yellow]warning:[/] Subsonic credentials travel in URLs: put TLS in front of this server")
    app = create_app(config)
    watch = IdleWatch(app) if idle_exit else None
    server = uvicorn.Server(uvicorn.Config(watch or app, host=host, port=port, log_level="warning"))
    if watch is not None:
        watch.stop_when_idle(server, idle_exit)
    with announced(lib, host, port):  # quick CLI queries on this library ask this server (tonearm/cli/running.py)
        server.run(sockets=[sock])


class IdleWatch:
    """ASGI wrapper that notes when the last request ended, to stop a server nobody uses.

    The quiet server that ``tonearm search`` starts in the background (``tonearm.cli.running``)
    must not outlive its use: after ``idle`` seconds with no request in flight and none started,
    it asks uvicorn to shut down gracefully (the announcement is then removed).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.in_flight = 0
        self.last = time.monotonic()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.in_flight += 1
        self.last = time.monotonic()
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            self.last = time.monotonic()

    def idle_for(self) -> float:
        return 0.0 if self.in_flight else time.monotonic() - self.last

    def stop_when_idle(self, server: Any, idle: float) -> None:
        def watch() -> None:
            while not server.should_exit:
                time.sleep(min(5.0, max(0.2, idle / 4)))
                if self.idle_for() >= idle:
                    server.should_exit = True

        threading.Thread(target=watch, name="tonearm-idle-exit", daemon=True).start()


subsonic_app = typer.Typer(help="The Subsonic API's credentials: show them, or rotate the secret.",
                           no_args_is_help=True)  # fmt: skip


@subsonic_app.command("show")
@handle_errors
def subsonic_show(
    library: LibraryOpt = None,
    user: Annotated[str, typer.Option("--user", help="The Subsonic user name.")] = "tonearm",
) -> None:
    """Print the user, secret (players' password) and API key for this library."""
    from tonearm.api.subsonic import auth

    lib = resolve_library(library)
    creds, created = auth.load(lib, user)
    console.print(f"user      {creds.user}\nsecret    {creds.secret}\napi key   {creds.api_key}", highlight=False)
    if os.environ.get("TONEARM_SUBSONIC_SECRET"):
        console.print("(the secret comes from $TONEARM_SUBSONIC_SECRET)")
    console.print(f"stored in {auth.credentials_file(lib)}" + (" (new)" if created else ""), highlight=False)


@subsonic_app.command("rotate")
@handle_errors
def subsonic_rotate(
    library: LibraryOpt = None,
    api_key: Annotated[bool, typer.Option("--api-key", help="Replace the API key instead of the secret.")] = False,
) -> None:
    """Replace the secret (or the API key); players need the new one after the server restarts."""
    from tonearm.api.subsonic import auth

    creds = auth.rotate(resolve_library(library), api_key=api_key)
    console.print(f"new {'api key' if api_key else 'secret'}: {creds.api_key if api_key else creds.secret}",
                  highlight=False)  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add this group's commands to the ``tonearm`` app, under "Serve" in ``--help``."""
    panel = "Serve"
    app.command(rich_help_panel=panel)(serve)
    app.add_typer(subsonic_app, name="subsonic", rich_help_panel=panel)
