"""librosa's cached kernels: compiled by one process at a time (numba issue 10128); a damaged cache is repaired."""

from __future__ import annotations

import itertools
import os
import pickle
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


def test_processes_with_other_cache_folders_still_compile_one_at_a_time(tmp_path: Path) -> None:
    # Other users, or other $TONEARM_CACHE folders, share librosa's kernel cache: the lock sits beside it.
    log = tmp_path / "spans"
    code = textwrap.dedent(f"""
        import time
        from tonearm.analyzers.numba_cache import prepare_kernels
        def run():
            start = time.monotonic()
            time.sleep(1.0)
            with open({str(log)!r}, "a") as f:
                f.write(f"{{start}} {{time.monotonic()}}\\n")
        assert prepare_kernels(run)
    """)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=dict(os.environ, TONEARM_CACHE=str(tmp_path / f"user{i}"), NUMBA_CACHE_DIR=str(tmp_path / "numba")),
        )
        for i in range(3)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    spans = sorted(tuple(map(float, line.split())) for line in log.read_text().splitlines())
    assert len(spans) == 3  # each had its own marker to write...
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans))  # ...but none ran beside another


def test_a_compiling_child_keeps_the_lock_when_its_parent_is_killed(tmp_path: Path) -> None:
    # A worker killed mid-check (Ctrl-C, the OOM killer) must not let another process compile beside its child.
    env = dict(os.environ, TONEARM_CACHE=str(tmp_path / "tonearm"), NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    parent = textwrap.dedent("""
        import os, threading, time
        from tonearm.analyzers import numba_cache
        numba_cache._CHILD = "import time; time.sleep(6)"  # a slow compile
        with numba_cache.kernels_locked() as held:
            threading.Thread(target=numba_cache.check_kernels_in_child, args=(held,), daemon=True).start()
            time.sleep(1.0)
            os._exit(0)  # as if killed mid-check: the lock's only other holder is now the child
    """)
    assert subprocess.run([sys.executable, "-c", parent], env=env, timeout=60).returncode == 0
    waiter = "import time; from tonearm.analyzers.numba_cache import kernels_locked; t = time.monotonic()\n"
    waiter += "with kernels_locked(): print(time.monotonic() - t)"
    waited = subprocess.run([sys.executable, "-c", waiter], env=env, timeout=60, capture_output=True, text=True)
    assert float(waited.stdout) > 1.0, waited.stderr


def test_a_lock_file_this_user_cannot_write_still_locks(tmp_path: Path) -> None:
    """A shared cache folder where another user made the lock file (read-only to this one)."""
    import shutil

    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or not setpriv:
        pytest.skip("needs root and setpriv to drop root's write-anything capability")
    env = dict(os.environ, TONEARM_CACHE=str(tmp_path / "tonearm"), NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    where = "from tonearm.analyzers.numba_cache import _lock_path; print(_lock_path())"
    lock = Path(subprocess.run([sys.executable, "-c", where], env=env, capture_output=True, text=True).stdout.strip())
    lock.touch()
    lock.chmod(0o444)
    code = "from tonearm.analyzers.numba_cache import kernels_locked\nwith kernels_locked() as held: print(held > 0)"
    drop = "-dac_override"
    res = subprocess.run([setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}", "--", sys.executable, "-c", code],
                         env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert res.returncode == 0 and res.stdout.split() == ["True"], res.stderr[-1500:]


class _AbortWhenLoaded:
    """Stands for machine code that kills the process running it (what two compiling processes can leave)."""

    def __reduce__(self):
        return (os.abort, ())


def test_a_damaged_kernel_cache_is_repaired_and_not_fatal(tmp_path: Path) -> None:
    env = dict(os.environ, TONEARM_CACHE=str(tmp_path / "tonearm"), NUMBA_CACHE_DIR=str(tmp_path / "numba"))

    def python(code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)

    prepare = "import logging; logging.basicConfig(); from tonearm.analyzers import numba_cache as n; "
    first = python(prepare + "print(n.prepare_kernels())")
    assert first.returncode == 0 and first.stdout.split() == ["True"], first.stderr[-2000:]
    damaged = sorted((tmp_path / "numba").glob("core_*/pitch._pi_wrapper-*.nbc"))
    assert damaged, sorted(p.name for p in (tmp_path / "numba").rglob("*.nbc"))
    for path in damaged:
        path.write_bytes(pickle.dumps(_AbortWhenLoaded()))
    load = "from tonearm.analyzers.numba_cache import run_kernels; run_kernels(); print('loaded')"
    assert python(load).returncode < 0  # the damage is real: any process that loads it dies

    # What an index run does after a worker crash: forget the marker, and the next worker checks again.
    repaired = python(prepare + "n.forget_kernels(); print(n.prepare_kernels()); n.run_kernels(); print('loaded')")
    assert repaired.returncode == 0, repaired.stderr[-2000:]
    assert repaired.stdout.split() == ["True", "loaded"]
    assert "crashed a process" in repaired.stderr and "compiling again" in repaired.stderr
    assert python(load).stdout.split() == ["loaded"]


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
