"""Start-up cost of a command: a local library opens without building LanceDB's REST client
(``tonearm.store.lance_rest_client``), which then still loads when something asks for it."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from tonearm.store import open_store
store = open_store(sys.argv[1])
store.set_meta("probe", {"opened": True})
assert store.get_meta("probe") == {"opened": True} and store.count() == 0
client = sys.modules["lance_namespace_urllib3_client"]
print("built" if "ApiClient" in vars(client) else "deferred")
from lance_namespace_urllib3_client import ApiClient, Configuration
print(ApiClient.__name__, Configuration.__name__)
"""


def test_a_local_library_opens_without_building_the_rest_client_which_loads_on_demand(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "lib")], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["deferred", "ApiClient Configuration"]


ANALYZERS_PROBE = """
import sys
from tonearm.analyzers import DEFAULT_VIEWS, get_analyzer
keys = [get_analyzer(name).key for name in DEFAULT_VIEWS.values()]
print(sorted(m for m in ("scipy.signal", "librosa.filters", "onnx", "ml_dtypes") if m in sys.modules))
"""


def test_the_default_analyzers_load_without_their_heavy_imports():
    """A process that only names the analyzers (the index run's main process, a query by track id) skips
    ``scipy.signal`` (1 s, through ``librosa.filters``) and ``onnx`` (1.3 s): the analysis loads them."""
    out = subprocess.run([sys.executable, "-c", ANALYZERS_PROBE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
