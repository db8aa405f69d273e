"""Library-wide refit of a standardised view: streamed, one column written, same numbers as fitting all at once."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest

from tonearm.analyzers.normalize import Discriminant, Moments, Standardizer
from tonearm.errors import TonearmError
from tonearm.library.refit import refit_view
from tonearm.store import open_store
from tonearm.store.base import raw_column, vector_column
from tonearm.store.copy import copy_library
from tonearm.store.lance import LanceStore

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


# ---- the discriminant projection (track-LDA) ----------------------------------------------------
def _recipe(min_tracks: int = 30) -> Discriminant:
    # One recording wanders a lot along dimensions 2 and 3 (raw units: the fill's std there is 2 and 10),
    # little along 0, 1 and 4: the directions that tell tracks apart are 0, 1 and 4.
    within = np.diag([0.05, 0.02, 4.0, 90.0, 1e-4])
    return Discriminant("test-lda-1", within, dims=2, ridge=0.1, min_tracks=min_tracks)


def test_a_library_gets_its_discriminant_projection_and_can_switch_it_off(store):
    raw = _fill(store, 40)
    plain = refit_view(store, "sound", KEY, None, None, batch_rows=8)  # the library before the change
    assert plain.method == "zscore" and plain.projection is None
    # An index run of the new version: same rows, no drift, but another method: a refit, nothing analysed.
    lda = refit_view(store, "sound", KEY, None, plain, batch_rows=8, discriminant=_recipe())
    assert lda is not plain and lda.method == "test-lda-1" and lda.projection.shape == (5, 2)
    share = np.abs(lda.projection[[0, 1, 4]]).sum() / np.abs(lda.projection).sum()
    assert share > 0.9, lda.projection  # it chose what differs between tracks, not what wanders within one
    saved = Standardizer.from_json(store.get_meta("normalizer:sound"))
    assert saved.method == "test-lda-1" and np.array_equal(saved.projection, lda.projection)
    # The search column now holds the 2 projected numbers; the raw column keeps all 5 for later refits.
    assert store.views() == {"sound": 2} and store.raw_dims() == {"sound": 5}
    vecs = _vectors(store)
    for i in (0, 17, 39):
        v = vecs[f"{i:016x}"]
        assert v.shape == (2,) and np.allclose(v, saved.apply(raw[i]), atol=1e-6) and np.isclose(v @ v, 1)
    assert np.allclose(store.get([f"{5:016x}"])[0][RAW], raw[5])
    hits = store.knn("sound", saved.apply(raw[7]), 3)
    assert hits[0].row["id"] == f"{7:016x}" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(TonearmError, match="does not fit the 'sound' view's 2"):
        store.knn("sound", plain.apply(raw[7]), 3)  # a query made with the old statistics: a clear error
    # Fitting again changes nothing; switching the projection off (`index --no-adapt`) refits to z-scores.
    assert refit_view(store, "sound", KEY, None, lda, batch_rows=8, discriminant=_recipe()) is lda
    off = refit_view(store, "sound", KEY, None, lda, batch_rows=8)
    assert off.method == "zscore" and store.views() == {"sound": 5}
    assert np.allclose(_vectors(store)[f"{3:016x}"], plain.apply(raw[3]), atol=1e-5)


def test_padded_projections_of_an_older_library_are_rewritten_at_their_own_length(store):
    """Format 3 kept projected vectors padded with zeros to the raw length; the next refit check (no drift, no
    new fit) rewrites them at the projection's length from the raw column, and a library killed between such
    a rewrite and its statistics converges the same way."""
    raw = _fill(store, 40)
    plain = refit_view(store, "sound", KEY, None, None)
    lda = Moments(covariance=True)
    lda.add(raw.astype(np.float64))
    std = lda.standardizer(KEY, None, _recipe())
    padded = np.zeros((40, 5), np.float32)
    padded[:, :2] = std.apply(raw)
    store.set_vectors("sound", [f"{i:016x}" for i in range(40)], padded)
    store.set_meta("normalizer:sound", std.to_json())  # as format 3 left it
    assert store.views() == {"sound": 5}
    kept = refit_view(store, "sound", KEY, None, std, discriminant=_recipe())
    assert kept is std and store.views() == {"sound": 2}  # same statistics, nothing fitted
    assert np.allclose(_vectors(store)[f"{9:016x}"], std.apply(raw[9]), atol=1e-6)
    # Killed after a rewrite to z-scores and before its statistics: the column (5) disagrees with them (2).
    store.rewrite_vectors("sound", lambda b: (np.ones(len(b["id"]), bool), plain.apply(b[RAW])), ["id", RAW], dim=5)
    assert store.views() == {"sound": 5}
    again = refit_view(store, "sound", KEY, None, std, discriminant=_recipe())
    assert again is std and store.views() == {"sound": 2}
    assert np.allclose(_vectors(store)[f"{9:016x}"], std.apply(raw[9]), atol=1e-6)


def test_a_library_with_a_short_search_column_copies_and_verifies(store, tmp_path):
    raw = _fill(store, 40)
    std = refit_view(store, "sound", KEY, None, None, discriminant=_recipe())
    assert store.views() == {"sound": 2}
    dst = open_store(str(tmp_path / "copy"))
    report = copy_library(store, dst)
    assert report.verified and dst.views() == {"sound": 2} and dst.raw_dims() == {"sound": 5}
    assert dst.knn("sound", std.apply(raw[4]), 1)[0].row["id"] == f"{4:016x}"


def test_a_small_library_keeps_z_scores_until_it_has_enough_tracks(store):
    _fill(store, 20)
    small = refit_view(store, "sound", KEY, None, None, discriminant=_recipe(min_tracks=30))
    assert small.method == "zscore" and small.projection is None
    _fill(store, 15, start=100)  # 35 tracks: the projection now pays
    grown = refit_view(store, "sound", KEY, None, small, discriminant=_recipe(min_tracks=30))
    assert grown.method == "test-lda-1" and grown.n == 35


def test_the_projection_separates_tracks_better_than_z_scores():
    """Tracks that differ along a few directions, recordings that wander along many: cosine neighbours
    of a stretch of a track are stretches of the same track more often after the projection."""
    rng = np.random.default_rng(3)
    tracks, stretches, dim, telling = 60, 4, 32, 8
    centres = np.zeros((tracks, dim))
    centres[:, :telling] = rng.normal(0, 1, (tracks, telling))  # what tells the tracks apart
    wander = rng.normal(0, 1.5, (tracks, stretches, dim)) * np.r_[np.full(telling, 0.2), np.ones(dim - telling)]
    parts = centres[:, None] + wander  # (tracks, stretches, dim)
    track_vectors = parts.mean(1)
    deviations = (parts - track_vectors[:, None]).reshape(-1, dim)
    within = deviations.T @ deviations / (tracks * (stretches - 1))
    moments = Moments(covariance=True)
    moments.add(track_vectors[:30])
    moments.add(track_vectors[30:])  # in two batches, as a refit reads them
    assert np.allclose(moments.c2 / moments.n, np.cov(track_vectors.T, bias=True))
    plain = moments.standardizer("x@1")
    lda = moments.standardizer("x@1", discriminant=Discriminant("x", within, dims=telling, ridge=0.5, min_tracks=10))

    def same_track_rate(std: Standardizer) -> float:
        v = std.apply(parts.reshape(-1, dim))
        sims = v @ v.T
        np.fill_diagonal(sims, -np.inf)
        return float(np.mean(sims.argmax(1) // stretches == np.arange(len(v)) // stretches))

    rates = same_track_rate(lda), same_track_rate(plain)
    assert rates[0] > rates[1] + 0.2, rates


def test_statistics_written_before_the_projection_existed_still_load():
    old = {"analyzer": "fused@2", "mean": [0.0, 1.0], "std": [1.0, 2.0], "n": 50, "weights": None}
    std = Standardizer.from_json(old)
    assert std.method == "zscore" and std.projection is None
    assert std.needs_refit("fused@2", 50, "track-lda-1") and not std.needs_refit("fused@2", 50)


def test_a_rewrite_to_a_new_length_stopped_midway_leaves_the_old_column_and_the_next_converges(store):
    """Stopped while filling the new column (PostgreSQL fills it batch by batch, LanceDB writes one version):
    queries keep the old vectors, and the next refit starts over and finishes."""
    raw = _fill(store, 40)
    plain = refit_view(store, "sound", KEY, None, None)
    seen = []

    def dies_on_the_third_batch(batch):
        seen.append(1)
        if len(seen) == 3:
            raise KeyboardInterrupt
        return np.ones(len(batch["id"]), bool), np.ones((len(batch["id"]), 2), np.float32)

    with pytest.raises(KeyboardInterrupt):
        store.rewrite_vectors("sound", dies_on_the_third_batch, ["id", RAW], batch_rows=8, dim=2)
    assert store.views() == {"sound": 5} and not any(c.startswith("nxt_") for c in store.columns())
    assert np.allclose(_vectors(store)[f"{6:016x}"], plain.apply(raw[6]), atol=1e-5)  # the old vectors serve
    std = refit_view(store, "sound", KEY, None, plain, batch_rows=8, discriminant=_recipe())
    assert store.views() == {"sound": 2} and std.output_dim() == 2
    assert np.allclose(_vectors(store)[f"{6:016x}"], std.apply(raw[6]), atol=1e-6)
    assert store.count() == 40


def test_a_search_column_left_without_its_index_gets_it_at_the_next_optimize(store):
    """PostgreSQL builds a swapped-in column's HNSW index after the swap: killed in between, optimize() builds it."""
    if isinstance(store, LanceStore):
        pytest.skip("LanceDB rebuilds its indexes in the rewrite itself (tests/test_lance_indexes.py)")
    _fill(store, 40)
    refit_view(store, "sound", KEY, None, None, discriminant=_recipe())
    assert store.views() == {"sound": 2}

    def indexes() -> list[str]:
        with store._conn() as conn:
            return [r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s",
                                               (store.library,)).fetchall()]  # fmt: skip

    assert "hnsw_sound" in indexes()  # the rewrite built it
    with store._conn() as conn, conn.transaction():
        conn.execute(f'DROP INDEX "{store.library}"."hnsw_sound"')  # as a kill after the swap leaves it
    store.optimize()
    assert "hnsw_sound" in indexes()
