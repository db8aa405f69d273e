"""Property-based requests generated from the OpenAPI spec (schemathesis): no input gives a 5xx.

The server runs for real (uvicorn) on a small library and without index folders, so generated
job requests are refused rather than started.
"""

from __future__ import annotations

import pytest
import schemathesis
from conftest import serve_library, synth, write_audio
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tonearm.library.indexer import Indexer
from tonearm.store import open_store


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("fuzz")
    media = root / "media"
    for i, kind in enumerate(("tonal", "chirp", "noise")):
        write_audio(media / f"{kind}.flac", synth(kind, 4.0, seed=i), tags={"title": kind, "genre": "Test"})
    (media / "tonal.txt").write_text("I miss you more than words can say\n")
    lib = root / "lib"
    Indexer(open_store(str(lib)), {"sound": "dsp", "melody": "melody", "words": "words"}).run([str(media)])
    empty = root / "nothing"
    empty.mkdir()
    proc, base = serve_library(lib, empty, "--max-upload-mb", "1")
    yield schemathesis.openapi.from_url(f"{base}/openapi.json")
    proc.terminate()
    proc.wait(timeout=30)


def test_no_server_errors(api_schema) -> None:
    # Hypothesis drives each operation directly (schemathesis's pytest plugin is not used).
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                  derandomize=True)  # fmt: skip
        def check(case) -> None:
            case.call_and_validate(checks=[not_a_server_error], timeout=60)

        check()
