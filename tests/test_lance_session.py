"""LanceDB's metadata cache is bounded per process: a process that commits track by track (an index run) or
follows another's commits (a server during an index run) does not grow with every table version."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, sys
from tonearm.store import open_store
from tonearm.store.lance import _session
store = open_store(sys.argv[1])
for i in range(300):  # one commit (one table version) each, as an index run makes them
    store.upsert([{"id": f"t{i % 7}", "path": f"/music/{i % 7}.flac", "title": f"take {i}"}])
print(json.dumps({"cache": _session().size_bytes, "rows": store.count()}))
"""


def _cache_after_commits(tmp_path, mb: int) -> dict:
    env = dict(os.environ, TONEARM_LANCE_METADATA_CACHE_MB=str(mb))
    out = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / f"lib{mb}")], capture_output=True, text=True,
                         env=env, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_metadata_cache_stays_within_its_bound_over_many_commits(tmp_path):
    bounded = _cache_after_commits(tmp_path, 2)
    unbounded = _cache_after_commits(tmp_path, 1024)
    assert bounded["rows"] == unbounded["rows"] == 7
    assert bounded["cache"] <= 1.25 * (2 << 20)  # the cache evicts as it fills: its size may pass the bound briefly
    assert unbounded["cache"] > 2 * bounded["cache"]  # without the bound it keeps every version's metadata
