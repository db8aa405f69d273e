"""The ``tonearm`` Typer app: the command groups, registered in the order ``--help`` shows them."""

from __future__ import annotations

import signal
import sys
from typing import Annotated

import typer

from tonearm.cli import check, fetch, library, queries, recommend, serve, storage, tools
from tonearm.cli.common import setup_logging

app = typer.Typer(
    name="tonearm",
    help="Find music and audio by how it sounds: index a folder, then ask what sounds alike.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False) -> None:
    setup_logging(verbose)


for group in (library, check, storage, queries, recommend, fetch, serve, tools):
    group.register(app)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops a command like Ctrl-C does: committed work kept, one line said


def run() -> None:
    """Run the app on ``sys.argv``."""
    signal.signal(signal.SIGTERM, _terminate)  # `tonearm serve` installs uvicorn's own graceful handler
    try:
        app()
    except BrokenPipeError:  # `tonearm tracks | head`
        sys.stderr.close()
