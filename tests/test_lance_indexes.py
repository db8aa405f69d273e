"""LanceDB libraries past the size where indexes are built: same answers as exact search.

The thresholds are lowered so a few hundred rows stand for a large library; what is checked is
that indexed search keeps recall and true scores, filters stay exact, lookups still find rows
added after the indexes, a library indexed with an older index type is rebuilt, and a process killed
while it builds the ANN index leaves the library whole.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tonearm.store.lance as lance
from tonearm.library.check import check_library
from tonearm.store import open_store
from tonearm.store.base import raw_column, vector_column

DIM, ROWS, GENRES = 16, 900, 10
VEC = vector_column("sound")


def _vectors(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).standard_normal((30, DIM))
    x = centres[rng.integers(0, 30, n)] + 0.3 * rng.standard_normal((n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _rows(start: int, n: int) -> list[dict]:
    x = _vectors(n, start)
    return [
        {"id": f"{start + i:016x}", "path": f"/m/{start + i}.flac", "genre": f"g{(start + i) % GENRES}",
         "year": 1950 + (start + i) % 70, "content_hash": f"h{start + i}", VEC: x[i], raw_column("sound"): x[i]}
        for i in range(n)
    ]  # fmt: skip


def _big(tmp_path, monkeypatch):
    monkeypatch.setattr(lance, "ANN_MIN_ROWS", 500)
    store = open_store(str(tmp_path / "lib"))
    store.ensure_view("sound", DIM)
    rows = _rows(0, ROWS)
    for i in range(0, ROWS, 300):
        store.upsert(rows[i : i + 300])
    store.optimize()
    return store, rows


@pytest.fixture
def big(tmp_path, monkeypatch):
    store, rows = _big(tmp_path, monkeypatch)
    yield store, rows
    store.close()


def _exact(rows: list[dict], q: np.ndarray, k: int, genre: str | None = None) -> list[str]:
    keep = [r for r in rows if genre is None or r["genre"] == genre]
    sims = np.array([float(np.dot(r[VEC], q)) for r in keep])
    return [keep[i]["id"] for i in np.argsort(-sims)[:k]]


@pytest.mark.parametrize("kind", ["IVF_FLAT", "IVF_SQ"])
def test_indexes_are_built_and_search_keeps_recall_and_true_scores(kind, tmp_path, monkeypatch):
    """Short search vectors (a projected view) get exact IVF_FLAT partitions; longer ones quantised IVF_SQ
    with an exact re-rank. Either way: recall, and true cosine scores."""
    if kind == "IVF_SQ":
        monkeypatch.setattr(lance, "ANN_FLAT_MAX_DIM", DIM - 1)  # DIM numbers count as long here
    store, rows = _big(tmp_path, monkeypatch)
    names = {i.name for i in store._tracks.list_indices()}
    assert f"{VEC}_idx" in names
    assert {f"{c}_idx" for c in lance.SCALAR_INDEXES} <= names
    state = store.get_meta("ann:sound")
    assert state["index"] == kind == lance.ann_index_type(DIM) and state["partitions"] == lance.ann_partitions(ROWS)
    built = [i.index_type for i in store._tracks.list_indices() if i.name == f"{VEC}_idx"]
    assert built == [kind.title().replace("_", "")]  # LanceDB's own name: IvfFlat, IvfSq
    assert store._ann_partitions("sound") == state["partitions"]
    queries = _vectors(20, 99)
    found = [len(set(h.row["id"] for h in store.knn("sound", q, 10)) & set(_exact(rows, q, 10))) for q in queries]
    assert np.mean(found) / 10 >= 0.9
    by_id = {r["id"]: r for r in rows}
    for h in store.knn("sound", queries[0], 10):  # exact, or re-ranked on the full vectors: true cosine
        assert h.score == pytest.approx(float(np.dot(by_id[h.row["id"]][VEC], queries[0])), abs=1e-4)
    store.close()


def test_filters_and_lookups_stay_exact_with_scalar_indexes(big):
    store, rows = big
    flt = store.compile_where("genre = 'g3' AND year >= 1960")
    want_n = sum(1 for r in rows if r["genre"] == "g3" and r["year"] >= 1960)
    assert store.count(flt) == want_n
    for q in _vectors(5, 7):
        hits = store.knn("sound", q, 10, where=store.compile_where("genre = 'g3'"))
        assert {h.row["genre"] for h in hits} == {"g3"}
        assert len(set(h.row["id"] for h in hits) & set(_exact(rows, q, 10, "g3"))) >= 9
    assert store.find_by_path("/m/17.flac")["id"] == f"{17:016x}"
    assert {r["id"] for r in store.get([f"{5:016x}", f"{800:016x}", "missing"])} == {f"{5:016x}", f"{800:016x}"}


def test_rows_added_after_the_indexes_are_found_and_old_index_types_rebuilt(big):
    store, rows = big
    late = _rows(5000, 40)
    store.upsert(late)  # not in any index yet: searched and looked up exactly
    assert store.find_by_path("/m/5007.flac")["id"] == f"{5007:016x}"
    assert store.knn("sound", late[3][VEC], 1)[0].row["id"] == late[3]["id"]
    assert store.count(store.compile_where("genre = 'g1'")) == sum(1 for r in rows + late if r["genre"] == "g1")
    assert store.build_ann_indexes() == {}  # the view has not doubled: the index is kept
    store.set_meta("ann:sound", {"rows": ROWS, "index": "IVF_HNSW_SQ", "seconds": 1.0})  # an older library
    assert store.build_ann_indexes() == {"sound": ROWS + 40}
    assert store.get_meta("ann:sound")["index"] == lance.ann_index_type(DIM)
    assert store.knn("sound", late[3][VEC], 1)[0].row["id"] == late[3]["id"]


def test_small_libraries_get_no_index(tmp_path):
    store = open_store(str(tmp_path / "lib"))
    store.ensure_view("sound", DIM)
    store.upsert(_rows(0, 50))
    store.optimize()
    assert store._tracks.list_indices() == []
    store.close()


def test_index_shape_and_probe_rules():
    assert lance.ann_partitions(1_000_000) == 500 and lance.ann_partitions(50_000) == 112
    assert lance.ann_partitions(1) == 1
    assert lance.ann_probes(500) == 120  # a quarter of the partitions
    assert lance.ann_probes(500, 0.05) == 240  # a selective filter probes twice as deep...
    assert lance.ann_probes(500, 0.0001) == 240  # ...and no deeper
    assert lance.ann_probes(500, 0.8) == 150
    assert lance.ann_probes(158) == 60  # a smaller index: never fewer than 60 (a quarter missed neighbours)
    assert lance.ann_probes(158, 0.05) == 120
    assert lance.ann_probes(3, 0.05) == 3 and lance.ann_probes(1) == 1  # never more than there are
    assert lance.ann_probes(None) == lance.ann_probes(0) == 40  # an older index, until it is rebuilt


def test_setting_a_few_vectors_leaves_the_rest_of_the_library_indexed(big):
    store, rows = big
    v = _vectors(1, 1234)[0]
    store.set_vectors("sound", [rows[5]["id"]], v[None, :])
    assert store.knn("sound", v, 1)[0].row["id"] == rows[5]["id"]
    stats = store._tracks.index_stats(f"{VEC}_idx")
    assert stats.num_indexed_rows == ROWS - 1 and stats.num_unindexed_rows == 1  # not the whole fragment


_BUILD = """
import sys
sys.path.insert(0, {tests!r})
import tonearm.store.lance as lance
from tonearm.store import open_store
from test_lance_indexes import _rows, ROWS
lance.ANN_MIN_ROWS = 500
store = open_store({lib!r})
if {first}:
    store.ensure_view("sound", {dim})
    rows = _rows(0, ROWS)
    for i in range(0, ROWS, 300):
        store.upsert(rows[i : i + 300])
store.optimize()
"""


def test_killed_while_the_ann_index_builds_the_library_is_intact_and_the_next_optimize_builds_it(tmp_path):
    """SIGKILL in the middle of the ANN index build (``$TONEARM_FAILPOINT=ann``): every row is still there and
    searchable by exact scan, no index is recorded, and the next optimize builds it."""
    lib = str(tmp_path / "lib")
    tests = str(Path(__file__).parent)

    def build(first: bool, env: dict[str, str]) -> subprocess.CompletedProcess:
        code = _BUILD.format(tests=tests, lib=lib, first=first, dim=DIM)
        return subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, timeout=300)

    killed = build(True, {"TONEARM_FAILPOINT": "ann", "TONEARM_FAILPOINT_DELAY_MS": "5"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-800:]
    store = open_store(lib, create=False)
    assert store.count() == ROWS and store.get_meta("ann:sound") is None
    assert f"{VEC}_idx" not in {i.name for i in store._tracks.list_indices()}
    rows = _rows(0, ROWS)
    assert store.knn("sound", rows[7][VEC], 1)[0].row["id"] == rows[7]["id"]
    assert check_library(store, files=False).findings == []
    store.close()

    assert build(False, {}).returncode == 0
    store = open_store(lib, create=False)
    assert f"{VEC}_idx" in {i.name for i in store._tracks.list_indices()} and store.get_meta("ann:sound")
    q = _vectors(20, 99)
    hits = [len(set(_exact(rows, v, 10)) & {h.row["id"] for h in store.knn("sound", v, 10)}) / 10 for v in q]
    assert store.count() == ROWS and np.mean(hits) >= 0.9
