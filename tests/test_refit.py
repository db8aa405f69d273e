"""Library-wide refit of a standardised view: streamed, one column written, same numbers as fitting all at once."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest

from tonearm.analyzers.normalize import Standardizer
from tonearm.library.refit import refit_view
from tonearm.store import open_store
from tonearm.store.base import raw_column, vector_column

KEY, OTHER = "dsp@1", "dsp@0"
VEC, RAW = vector_column("sound"), raw_column("sound")


@pytest.fixture(params=("lancedb", "postgresql"))
def store(request, tmp_path):
    if request.param == "lancedb":
        s = open_store(str(tmp_path / "lib"))
    else:
        server = request.getfixturevalue("postgres_url")
        s = open_store(f"{server}{'&' if '?' in server else '?'}library=r_{uuid.uuid4().hex[:12]}")
    s.ensure_view("sound", 5)
    yield s
    s.close()


def _fill(store, n: int, start: int = 0, key: str = KEY) -> np.ndarray:
    raw = np.random.default_rng(start).normal([100, -3, 0, 7e3, 1], [5, 1, 2, 10, 0.1], size=(n, 5)).astype(np.float32)
    store.upsert([
        {"id": f"{start + i:016x}", "path": f"/m/{start + i}.flac", "title": f"t{start + i}", RAW: raw[i], VEC: None,
         "views_json": json.dumps({"sound": key})}
        for i in range(n)
    ])  # fmt: skip
    return raw


def _vectors(store) -> dict[str, np.ndarray | None]:
    return {r["id"]: (None if r[VEC] is None else np.asarray(r[VEC])) for r in store.scan(columns=["id", VEC])}


def test_refit_streams_batches_to_the_one_pass_statistics_and_writes_only_vectors(store):
    raw = _fill(store, 45)
    _fill(store, 4, start=100, key=OTHER)  # analysed by another version: waits for re-analysis, not fitted
    std = refit_view(store, "sound", KEY, None, None, batch_rows=8)
    whole = Standardizer.fit(KEY, raw)
    assert std.n == 45 and np.allclose(std.mean, whole.mean) and np.allclose(std.std, whole.std, rtol=1e-6)
    assert Standardizer.from_json(store.get_meta("normalizer:sound")).n == 45  # recorded
    vecs = _vectors(store)
    for i in range(45):
        assert np.allclose(vecs[f"{i:016x}"], whole.apply(raw[i]), atol=1e-5)
    assert all(vecs[f"{100 + i:016x}"] is None for i in range(4))
    row = store.get([f"{3:016x}"])[0]
    assert row["title"] == "t3" and np.allclose(row[RAW], raw[3])  # the rest of the row kept

    # No drift: nothing refitted; a new row without a vector gets one from the same statistics.
    more = _fill(store, 1, start=200)
    again = refit_view(store, "sound", KEY, None, std, batch_rows=8)
    assert again is std
    assert np.allclose(_vectors(store)[f"{200:016x}"], std.apply(more[0]), atol=1e-6)
    assert np.allclose(_vectors(store)[f"{5:016x}"], whole.apply(raw[5]), atol=1e-5)

    # Drift past the refit rule: every owned vector re-derived from the new statistics.
    more = np.concatenate([raw, more, _fill(store, 20, start=300)])
    third = refit_view(store, "sound", KEY, None, again, batch_rows=8)
    assert third.n == 66 and np.allclose(third.mean, more.mean(0), rtol=1e-6)
    assert np.allclose(_vectors(store)[f"{5:016x}"], third.apply(raw[5]), atol=1e-5)


def test_refit_of_an_empty_or_foreign_view_changes_nothing(store):
    assert refit_view(store, "sound", KEY, None, None) is None
    _fill(store, 3, key=OTHER)
    assert refit_view(store, "sound", KEY, None, None) is None
    assert store.get_meta("normalizer:sound") is None


def test_rewrite_keeps_rows_without_vectors_and_other_views(store):
    """The refit's one-pass rewrite carries every other column and null vector through unchanged."""
    store.ensure_view("melody", 3)
    raw = _fill(store, 12)
    store.upsert([{"id": "00000000000000ff", "path": "/m/none.flac", "title": "no analysis yet"}])
    store.upsert([dict(store.get([f"{2:016x}"])[0], vec_melody=np.ones(3, np.float32) / np.sqrt(3))])
    std = refit_view(store, "sound", KEY, None, None, batch_rows=5)
    assert store.count() == 13
    bare = store.get(["00000000000000ff"])[0]
    assert bare[VEC] is None and bare[RAW] is None and bare["vec_melody"] is None and bare["title"] == "no analysis yet"
    two = store.get([f"{2:016x}"])[0]
    assert np.allclose(two["vec_melody"], np.ones(3) / np.sqrt(3), atol=1e-6)
    assert np.allclose(two[VEC], std.apply(raw[2]), atol=1e-5)
