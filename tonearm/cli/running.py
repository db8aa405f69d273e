"""A running ``tonearm serve`` announces itself in its library, so quick CLI queries can ask it.

Why: a fresh CLI process that opens an embedded library pays for importing LanceDB (about
1.2 s on a 2-core machine, most of it building the models of a REST client tonearm never
uses) before it can answer, while a server answers a text search in 50-160 ms because its
models and tables are already loaded. ``tonearm serve`` writes ``.tonearm-serve.json`` (pid,
port) into the library folder and removes it when it stops; ``tonearm search`` asks that
server when the file names a live process and falls back to answering itself on any
failure (stale file, refused connection, error status), so the answer never depends on the
server being there. ``--local`` or ``TONEARM_LOCAL=1`` skips the server.

When no server runs, ``tonearm search`` answers itself and then starts one in the background
(``start_background``): a quiet ``tonearm serve --port 0`` of the library that stops after
``BACKGROUND_IDLE_S`` without a request, so the next query on a warm machine is quick.
``TONEARM_BACKGROUND=0`` (or ``--local``) turns that off; a library folder tonearm cannot
write to never gets one (it could not be announced).

Only plain library folders on this machine take part: the file is read and written with the
standard library alone, and only a server on loopback is asked (a server bound to one LAN
address is not announced), so a query never leaves the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FILE = ".tonearm-serve.json"
STARTING = ".tonearm-serve.starting"  # a CLI process is starting a server (so two do not start two)
BACKGROUND_IDLE_S = 900.0
_STARTING_FRESH_S = 60.0
_LOOPBACK = ("127.0.0.1", "::1")
ASK_TIMEOUT_S = 30.0  # a server's first request may load models; a hung server costs this once, then local


def _file(library: str) -> Path | None:
    return None if "://" in library else Path(library) / FILE


@contextlib.contextmanager
def announced(library: str, host: str, port: int) -> Iterator[None]:
    """Announce this process as the library's server while the block runs (silently skipped when unwritable)."""
    path = _file(library)
    loopback = "127.0.0.1" if host in ("0.0.0.0", "::", "localhost") else host
    written = False
    if path is not None and path.parent.is_dir() and loopback in _LOOPBACK:
        try:
            tmp = path.with_name(f"{FILE}.{os.getpid()}.tmp")
            info = {"pid": os.getpid(), "host": loopback, "port": port, "library": str(path.parent.resolve())}
            tmp.write_text(json.dumps(info))
            os.replace(tmp, path)
            written = True
            path.with_name(STARTING).unlink(missing_ok=True)
        except OSError:
            pass
    previous = None
    if written:
        # uvicorn re-raises SIGTERM after its graceful shutdown; with the default action the process
        # would die before the announcement is removed, so SIGTERM becomes an ordinary exit here.
        with contextlib.suppress(ValueError):  # not the main thread: nothing to install
            previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if written:
            try:
                if json.loads(path.read_text()).get("pid") == os.getpid():  # another server may have taken over
                    path.unlink()
            except (OSError, ValueError):
                pass


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _local() -> bool:
    """TONEARM_LOCAL=1: this process answers its own queries (no server asked, none started)."""
    return os.environ.get("TONEARM_LOCAL", "").lower() in ("1", "true", "yes")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def server_for(library: str) -> str | None:
    """The base URL of a live server announced in ``library``, or None."""
    path = _file(library)
    if path is None or _local():
        return None
    try:
        info = json.loads(path.read_text())
        pid, host, port = int(info["pid"]), str(info["host"]), int(info["port"])
        if info["library"] != str(path.parent.resolve()):
            return None  # the folder was copied with its announcement: that server serves the original
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if host not in _LOOPBACK or pid == os.getpid() or not _alive(pid):
        return None  # a query never leaves the machine, whatever the file says
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def ask(library: str, route: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """GET ``route`` from the library's running server; None when there is none or it did not answer 200."""
    base = server_for(library)
    if base is None:
        return None
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    try:
        with urllib.request.urlopen(f"{base}{route}?{query}", timeout=ASK_TIMEOUT_S) as resp:
            if resp.status != 200:
                return None
            payload = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    if not isinstance(payload, dict) or "query" not in payload:
        return None
    payload["query"]["served_by"] = base
    return payload


def start_background(library: str) -> bool:
    """Start a quiet server of ``library`` that exits when idle; False when not wanted or not possible.

    Detached from this process (its own session: a Ctrl-C here does not reach it), output discarded.
    A marker file claimed with O_EXCL keeps concurrent CLI calls from starting one server each;
    the server removes it once it has announced itself, and a marker older than a minute is stale.
    """
    path = _file(library)
    if path is None or _local() or os.environ.get("TONEARM_BACKGROUND", "").lower() in ("0", "false", "no"):
        return False
    if not path.parent.is_dir() or server_for(library) is not None:
        return False
    marker = path.with_name(STARTING)
    try:
        if time.time() - marker.stat().st_mtime < _STARTING_FRESH_S:
            return False
        marker.unlink()
    except OSError:
        pass
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except OSError:  # read-only library, or another process won the race
        return False
    idle = os.environ.get("TONEARM_BACKGROUND_IDLE_S") or str(BACKGROUND_IDLE_S)
    cmd = [sys.executable, "-m", "tonearm.cli", "serve", "--library", str(path.parent), "--port", "0",
           "--idle-exit", idle]  # fmt: skip
    try:
        subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True)  # fmt: skip
    except OSError:
        marker.unlink(missing_ok=True)
        return False
    return True
