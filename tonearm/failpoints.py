"""Named points where a test may kill this process for real, to prove a library survives it.

Why: "survives a crash at any moment" is only a promise if a crash is made to happen at each risky
moment. Like the fault hooks of SQLite's test builds and the fail points of TiKV, a point does
nothing unless ``$TONEARM_FAILPOINT`` names it; then the process sends itself SIGKILL there (no
cleanup, no flush: what a power cut or the OOM killer does). Two kinds:

* ``hit(name)``: dies at the point (``name:N`` in the variable: at its N-th hit), for moments
  between two steps (after a segment is written, before the manifest names it);
* ``during(name)``: dies while the block runs, ``$TONEARM_FAILPOINT_DELAY_MS`` (default 2) after it
  starts, or at its end if it was quicker: for single calls whose inside we cannot reach (a LanceDB
  commit, a compaction).

Nothing is read from the environment unless the variable is set, so the points cost a dict lookup.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

_counts: dict[str, int] = {}


def _armed(name: str) -> bool:
    wanted = os.environ.get("TONEARM_FAILPOINT")
    if not wanted:
        return False
    point, _, nth = wanted.partition(":")
    if point != name:
        return False
    _counts[name] = _counts.get(name, 0) + 1
    return _counts[name] == (int(nth) if nth else 1)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def hit(name: str) -> None:
    """Die here if ``$TONEARM_FAILPOINT`` names this point (see the module docstring)."""
    if _armed(name):
        _die()


@contextlib.contextmanager
def during(name: str) -> Iterator[None]:
    """Die inside the block if ``$TONEARM_FAILPOINT`` names this point (see the module docstring)."""
    if not _armed(name):
        yield
        return
    delay = float(os.environ.get("TONEARM_FAILPOINT_DELAY_MS", "2")) / 1000
    threading.Timer(delay, _die).start()
    yield
    _die()
