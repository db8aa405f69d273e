"""The per-file time limit interrupts Python code, but never an import: a package left half-imported
would fail every later file of the worker (seen in CI as "module 'scipy' has no attribute '_lib'")."""

from __future__ import annotations

import importlib
import sys
import time

import pytest

from tonearm.library.worker import FileClock, TimeLimit


def _slow_package(root, name: str) -> None:
    pkg = root / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from . import first, second\n")
    (pkg / "first.py").write_text("VALUE = 1\n")
    # The import outlasts the limit, in Python code (where a signal handler runs).
    busy = "import time\nend = time.monotonic() + 0.4\nwhile time.monotonic() < end:\n    pass\nVALUE = 2\n"
    (pkg / "second.py").write_text(busy)


def test_a_time_limit_waits_for_the_import_it_interrupts(tmp_path, monkeypatch):
    name = "tonearm_clock_probe"
    _slow_package(tmp_path, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("TONEARM_FILE_TIMEOUT", "0.05")
    importlib.invalidate_caches()
    started = time.monotonic()
    try:
        with pytest.raises(TimeLimit), FileClock(0):
            module = importlib.import_module(name)  # the limit passes in the middle of this
            assert module.second.VALUE == 2 and time.monotonic() - started >= 0.4
            while True:  # then the file's "analysis" runs on, and is stopped
                time.sleep(0.001)
        # The package is whole: a later file of this worker can use it.
        assert sys.modules[name].first.VALUE == 1 and sys.modules[f"{name}.second"].VALUE == 2
        assert time.monotonic() - started < 5
    finally:
        for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[mod]


def test_the_time_limit_stops_plain_python_code(monkeypatch):
    monkeypatch.setenv("TONEARM_FILE_TIMEOUT", "0.05")
    started = time.monotonic()
    with pytest.raises(TimeLimit, match="per-file time limit"), FileClock(0):
        while True:
            sum(range(1000))
    assert time.monotonic() - started < 2
