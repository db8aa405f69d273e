"""A tonearm process caps glibc's malloc arenas for itself and the analysis workers it starts
(``tonearm.config.limit_malloc_arenas``); a value the user set is kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import multiprocessing as mp, os, sys
from tonearm.config import limit_malloc_arenas

def child(q):
    q.put(os.environ.get("MALLOC_ARENA_MAX"))

if __name__ == "__main__":
    took = limit_malloc_arenas()
    q = mp.get_context("spawn").Queue()
    p = mp.get_context("spawn").Process(target=child, args=(q,))
    p.start(); p.join()
    print(took, os.environ["MALLOC_ARENA_MAX"], q.get())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
@pytest.mark.parametrize(("preset", "want"), [(None, "2"), ("4", "4")])
def test_the_arena_cap_holds_here_and_in_the_workers_and_a_users_value_wins(tmp_path, preset, want):
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    if preset:
        env["MALLOC_ARENA_MAX"] = preset
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", want, want]
