"""CSLS hubness correction: a track in a dense crowd is demoted below an equally close loner."""

from __future__ import annotations

import numpy as np

from tonearm.search.hubness import neighbour_means
from tonearm.search.similar import similar
from tonearm.store import open_store
from tonearm.store.base import vector_column


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def _library(tmp_path):
    rng = np.random.default_rng(0)
    e = np.eye(8, dtype=np.float32)
    vecs = {"query": e[0], "loner": _unit(0.78 * e[0] + 0.626 * e[2])}
    crowd_centre = _unit(0.8 * e[0] + 0.6 * e[1])
    for i in range(12):  # a dense crowd: every member is close to the query and to all the others
        vecs[f"crowd{i}"] = _unit(crowd_centre + 0.03 * rng.standard_normal(8))
    for i in range(20):
        vecs[f"far{i}"] = _unit(e[3 + i % 5] + 0.3 * rng.standard_normal(8))
    store = open_store(str(tmp_path / "lib"))
    store.ensure_view("sound", 8)
    store.upsert([{"id": f"{n:016x}", "path": f"/m/{name}.flac", "title": name, vector_column("sound"): v}
                  for n, (name, v) in enumerate(vecs.items())])  # fmt: skip
    return store


def test_csls_demotes_crowded_candidates(tmp_path) -> None:
    store = _library(tmp_path)
    plain = [r["title"] for r in similar(store, f"{0:016x}", k=13, view="sound", hubness=False)["results"]]
    assert plain.index("loner") >= 8  # most of the crowd is (slightly) closer
    fixed = similar(store, f"{0:016x}", k=13, view="sound", hubness=True)
    assert fixed["results"][0]["title"] == "loner" and fixed["query"]["hubness"] is True
    assert similar(store, f"{0:016x}", k=3, view="sound")["query"]["hubness"] is False  # sound: off by default


def test_neighbour_means_ignores_the_diagonal() -> None:
    sim = np.array([[-np.inf, 0.5, 0.1], [0.5, -np.inf, 0.3], [0.1, 0.3, -np.inf]])
    assert np.allclose(neighbour_means(sim, k=1), [0.5, 0.5, 0.3])
