"""librosa's cached kernels are compiled by one process per environment (numba issue 10128)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tonearm.analyzers import numba_cache


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("TONEARM_CACHE", str(folder))
    return folder


def test_the_kernels_are_run_once_per_environment(cache: Path) -> None:
    calls: list[int] = []
    assert numba_cache.prepare_kernels(lambda: calls.append(1)) is True
    assert numba_cache.prepare_kernels(lambda: calls.append(1)) is False
    assert calls == [1]
    assert list(cache.glob("numba-kernels-*.done"))


def test_a_failed_warm_up_is_not_an_error_and_is_tried_again(cache: Path) -> None:
    def broken() -> None:
        raise RuntimeError("no compiler")

    assert numba_cache.prepare_kernels(broken) is False
    assert not list(cache.glob("*.done"))
    assert numba_cache.prepare_kernels(lambda: None) is True


def test_processes_starting_together_compile_one_at_a_time(cache: Path, tmp_path: Path) -> None:
    # Each process records that it compiled, and takes a while about it: without the lock, all three
    # would find no marker and compile at once.
    log = tmp_path / "compiled"
    code = textwrap.dedent(f"""
        import os, time
        from tonearm.analyzers.numba_cache import prepare_kernels
        def run():
            with open({str(log)!r}, "a") as f:
                f.write(f"{{os.getpid()}}\\n")
            time.sleep(1.0)
        prepare_kernels(run)
    """)
    env = dict(os.environ, TONEARM_CACHE=str(cache))
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env) for _ in range(3)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    assert len(log.read_text().split()) == 1


def test_the_real_kernels_run(cache: Path) -> None:
    assert numba_cache.prepare_kernels() is True  # compiled by conftest already: this loads them


def test_an_upgrade_is_another_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    before = numba_cache.environment_key()
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/elsewhere")
    assert numba_cache.environment_key() != before


def test_every_analysis_checks_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from tonearm.analyzers import get_analyzer
    from tonearm.audio.decode import AudioInfo
    from tonearm.audio.segments import DecodedAudio

    calls: list[int] = []
    monkeypatch.setattr(numba_cache, "_checked_here", False)
    monkeypatch.setattr(numba_cache, "prepare_kernels", lambda: calls.append(1))
    dsp = get_analyzer("dsp")
    sr = dsp.sample_rate
    y = np.sin(np.linspace(0, 2000, sr * 3)).astype(np.float32)
    for _ in range(2):  # a query's file analysed in the API process, say
        dsp.run(DecodedAudio(AudioInfo(3.0, sr, 1, "test"), sr, [y], [0.0]))
    assert calls == [1]
