"""A running ``tonearm serve`` announces itself in its library, so quick CLI queries can ask it.

Why: a fresh CLI process that opens an embedded library pays for importing LanceDB (about
1.2 s on a 2-core machine, most of it building the models of a REST client tonearm never
uses) before it can answer, while a server answers a text search in 50-160 ms because its
models and tables are already loaded. ``tonearm serve`` writes ``.tonearm-serve.json`` (pid,
port) into the library folder and removes it when it stops; ``tonearm search`` asks that
server when the file names a live process and falls back to answering itself on any
failure (stale file, refused connection, error status), so the answer never depends on the
server being there. ``--local`` or ``TONEARM_LOCAL=1`` skips the server.

Only plain library folders on this machine take part: the file is read and written with the
standard library alone, and only a server on loopback is asked (a server bound to one LAN
address is not announced), so a query never leaves the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FILE = ".tonearm-serve.json"
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
    if path is None or os.environ.get("TONEARM_LOCAL", "") in ("1", "true", "yes"):
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
