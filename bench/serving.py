"""Start a real ``tonearm serve`` for a benchmark and wait until it answers (shared by the bench scripts)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def tonearm_server(library: str, *options: str, env: dict[str, str] | None = None,
                   ready: str = "/api/config", timeout_s: float = 40.0) -> Iterator[str]:  # fmt: skip
    """Yield the base URL (``http://127.0.0.1:PORT``) once ``ready`` answers; stop the server after."""
    with tonearm_server_process(library, *options, env=env, ready=ready, timeout_s=timeout_s) as (base, _):
        yield base


@contextmanager
def tonearm_server_process(library: str, *options: str, env: dict[str, str] | None = None,
                           ready: str = "/api/config",
                           timeout_s: float = 40.0) -> Iterator[tuple[str, subprocess.Popen]]:  # fmt: skip
    """Like ``tonearm_server``, with the server's process (to sample its memory)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tonearm.cli", "serve", "--library", library, "--port", str(port),
                             *options], env=env or dict(os.environ), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                httpx.get(base + ready, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit(f"tonearm serve did not answer {ready} within {timeout_s:g} s") from None
                time.sleep(0.2)
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)
