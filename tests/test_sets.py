"""Tracks compared as sets of stretches (``similar --match sets``): the stored field, the score, the search."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import run_cli

from tonearm.analyzers import fused, stretches
from tonearm.analyzers.fused import FusedSoundAnalyzer, encode_segments, segment_raws, stretch_means
from tonearm.analyzers.normalize import Moments, Standardizer
from tonearm.errors import TonearmError
from tonearm.library.indexer import Indexer, IndexReport
from tonearm.library.scan import iter_audio_files
from tonearm.search.sets import MAX_CANDIDATES, SETS_POOL, SetMatcher, chamfer, chamfer_many, sets_pool
from tonearm.search.similar import similar
from tonearm.store import open_store
from tonearm.store.base import raw_column, vector_column

DIM = FusedSoundAnalyzer.dim
NET = fused._NET_DIM
DSP = fused._DSP_DIM


def test_stretch_means_cut_each_network_into_the_same_number_of_stretches():
    a = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 3))  # 10 windows of one network
    b = np.arange(7, dtype=np.float32)[:, None] * np.ones((1, 2))  # 7 of another
    out = stretch_means([a, b], segments=4)
    assert out.shape == (4, 5)
    assert np.allclose(out[:, 0], [1.0, 4.0, 6.5, 8.5]) and np.allclose(out[:, 3], [0.5, 2.5, 4.5, 6.0])
    assert stretch_means([a[:2], b], segments=4).shape == (2, 5)  # fewer windows than stretches


def test_the_stored_field_gives_back_the_stretches():
    rng = np.random.default_rng(0)
    track = rng.normal(size=DIM).astype(np.float32)
    track[DSP : DSP + 10] += 200.0  # outputs far from zero: float16 would round their values by 0.125
    stretches = track[DSP:] + rng.normal(scale=0.05, size=(4, NET)).astype(np.float32)
    good = encode_segments(stretches, track)
    two = encode_segments(stretches[:2], track)
    fields = [good, None, good[:-8], "not base64!", two]
    back, counts = segment_raws(np.stack([track] * 5), fields)
    assert counts.tolist() == [4, 0, 0, 0, 2] and back.shape == (6, DIM)  # missing and damaged: none
    assert np.array_equal(back[:, :DSP], np.broadcast_to(track[:DSP], (6, DSP)))  # per-track statistics
    assert np.abs(back[:4, DSP:] - stretches).max() < 1e-4  # deviations, not values, are rounded
    assert np.abs(back[4:, DSP:] - stretches[:2]).max() < 1e-4
    with pytest.raises(ValueError):
        encode_segments(stretches[:, :-1], track)


def test_statistics_read_back_from_the_library_keep_their_fingerprint():
    rng = np.random.default_rng(2)
    fused_view = FusedSoundAnalyzer()
    moments = Moments(covariance=True)
    moments.add(rng.normal(size=(80, DIM)) * rng.uniform(0.1, 50.0, size=DIM))
    std = moments.standardizer(fused_view.key, fused_view.dim_weights(), fused_view.discriminant())
    assert std.projection is not None  # the projected case: float32 directions in a float64 fit
    back = Standardizer.from_json(json.loads(json.dumps(std.to_json())))
    assert back.fingerprint == std.fingerprint and len(std.fingerprint) == 12
    refit = moments.standardizer(fused_view.key, fused_view.dim_weights(), None)
    assert refit.fingerprint != std.fingerprint


def test_chamfer_scores_sets_by_their_best_matches():
    e = np.eye(4, dtype=np.float32)
    assert chamfer(e[:2], e[:2]) == pytest.approx(1.0)
    assert chamfer(e[:2], e[1:3]) == pytest.approx(0.5) == chamfer(e[1:3], e[:2])
    assert chamfer(e[:2], e[2:]) == pytest.approx(0.0)
    assert chamfer(e[:1], e[:3]) == pytest.approx(0.5 * (1.0 + 1.0 / 3.0))  # both directions count
    rng = np.random.default_rng(3)
    q = rng.normal(size=(3, 8))
    sets = [rng.normal(size=(n, 8)) for n in (1, 4, 2)]
    many = chamfer_many(q, np.concatenate(sets), np.array([1, 4, 2]))
    assert np.allclose(many, [chamfer(q, s) for s in sets])


def _row(i: int, stretches: np.ndarray | None, std: Standardizer, track: np.ndarray) -> dict:
    row = {"id": f"{i:016x}", "path": f"/m/{i}.flac", "title": f"t{i}", raw_column("sound"): track,
           vector_column("sound"): std.apply(track), "views_json": json.dumps({"sound": "fused@3"})}  # fmt: skip
    if stretches is not None:
        row[fused.SEGMENTS_FIELD] = encode_segments(stretches, track)
    return row


@pytest.fixture
def set_library(tmp_path):
    """A library where whole-track and stretch-wise similarity disagree.

    The query is mostly A with a stretch of B. ``blend`` has the query's average everywhere (the
    nearest track vector); ``parts`` has the same two sounds in other proportions (mostly B): by
    sets it is nearer. Twenty other tracks fill the library.
    """
    rng = np.random.default_rng(1)
    base = rng.normal(size=DIM).astype(np.float32)
    a, b = (rng.normal(scale=3.0, size=NET).astype(np.float32) for _ in range(2))

    def track(halves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        nets = np.array([base[DSP:] + h for h in halves])
        return np.concatenate([base[:DSP], nets.mean(0)]), nets

    q_track, q_sets = track([a, a, a, b])
    blend_track, blend_sets = track([(3 * a + b) / 4] * 4)
    parts_track, parts_sets = track([a, b, b, b])
    others = [track([rng.normal(scale=3.0, size=NET).astype(np.float32)] * 2) for _ in range(20)]
    raws = np.array([q_track, blend_track, parts_track, *(t for t, _ in others)])
    std = Standardizer.fit("fused@3", raws + rng.normal(scale=0.5, size=raws.shape))
    store = open_store(str(tmp_path / "lib"))
    store.ensure_view("sound", DIM)
    store.ensure_fields({fused.SEGMENTS_FIELD: "string", "title": "string"})
    rows = [_row(0, q_sets, std, q_track), _row(1, blend_sets, std, blend_track), _row(2, parts_sets, std, parts_track)]
    rows += [_row(3 + i, s, std, t) for i, (t, s) in enumerate(others)]
    rows.append(_row(99, None, std, base))  # analysed before stretches were kept
    store.upsert(rows)
    store.set_meta("normalizer:sound", std.to_json())
    store.set_meta("views", {"sound": "fused"})
    return store


def test_set_matching_finds_the_track_made_of_the_same_sounds(set_library):
    by_vector = similar(set_library, f"{0:016x}", k=3)
    by_sets = similar(set_library, f"{0:016x}", k=3, match="sets")
    assert by_vector["results"][0]["title"] == "t1" and by_vector["query"]["match"] == "vector"
    assert by_sets["query"]["candidates"] == 200  # the default first stage
    few = similar(set_library, f"{0:016x}", k=1, match="sets", candidates=2)
    assert few["query"]["candidates"] == 11  # never fewer than the k + 10 that copies of one recording need
    assert by_sets["results"][0]["title"] == "t2" and by_sets["query"]["match"] == "sets"
    scores = [r["score"] for r in by_sets["results"]]
    assert scores == sorted(scores, reverse=True) and all(-1.0 <= s <= 1.0 for s in scores)
    assert f"{0:016x}" not in {r["id"] for r in by_sets["results"]}


def test_stored_stretch_vectors_give_the_derived_scores_and_stale_ones_are_not_used(set_library):
    derived = similar(set_library, f"{0:016x}", k=20, match="sets")["results"]
    std = Standardizer.from_json(set_library.get_meta("normalizer:sound"))
    rows = list(set_library.scan(columns=["id", raw_column("sound"), vector_column("sound"), fused.SEGMENTS_FIELD]))
    vectors, counts = stretches.derive(FusedSoundAnalyzer(), std, np.array([r[raw_column("sound")] for r in rows]),
                                       [r[fused.SEGMENTS_FIELD] for r in rows])  # fmt: skip
    stored = stretches.encode_many(std, vectors, counts)
    stored[1] = "0123456789ab" + stored[1][12:]  # derived with other statistics: not used
    stored[2] = stored[2][:20]  # damaged: not used
    field = stretches.set_field("sound")
    set_library.ensure_fields({field: "string"})
    set_library.set_vectors("sound", [r["id"] for r in rows], np.array([r[vector_column("sound")] for r in rows]),
                            {field: stored})  # fmt: skip
    assert stretches.decode(stored[1], std) is None and stretches.decode(stored[2], std) is None
    assert stretches.decode(stored[3], std).shape == (counts[3], std.output_dim())
    reads: list[list[str]] = []
    real_scan = set_library.scan_batches

    def spy(columns, *args, **kwargs):
        reads.append(list(columns))
        return real_scan(columns, *args, **kwargs)

    set_library.scan_batches = spy
    again = similar(set_library, f"{0:016x}", k=20, match="sets")["results"]
    assert [r["id"] for r in again] == [r["id"] for r in derived]
    assert np.allclose([r["score"] for r in again], [r["score"] for r in derived], atol=1e-5)
    assert reads and not any(field in cols for cols in reads)  # they came with the candidates; stale ones derived
    # Candidates that do not carry them (a caller that did not ask) have them read by id: the same scores.
    matcher = SetMatcher(set_library, "sound")
    (q,) = set_library.get([f"{0:016x}"])
    query = matcher.query_set(q, q[raw_column("sound")], q[vector_column("sound")])
    vec = np.asarray(q[vector_column("sound")])
    carried = matcher.rerank(set_library, query, set_library.knn("sound", vec, 20, columns=["id", field]))
    bare = matcher.rerank(set_library, query, set_library.knn("sound", vec, 20, columns=["id"]))
    assert [h.row["id"] for h in bare] == [h.row["id"] for h in carried]
    assert np.allclose([h.score for h in bare], [h.score for h in carried], atol=1e-6)
    assert any(field in cols for cols in reads)


def test_a_track_without_stretches_is_a_set_of_one(set_library):
    everyone = similar(set_library, f"{0:016x}", k=50, match="sets")["results"]
    assert f"{99:016x}" in {r["id"] for r in everyone}  # compared by its track vector, not dropped
    old = similar(set_library, f"{99:016x}", k=5, match="sets")  # and it can be the query
    assert len(old["results"]) == 5


def test_set_matching_needs_a_view_that_keeps_stretches(set_library):
    saved = set_library.get_meta("normalizer:sound")
    set_library.set_meta("normalizer:sound", dict(saved, analyzer="fused@2"))  # an index run not finished
    with pytest.raises(TonearmError, match="finish an index run"):
        SetMatcher(set_library, "sound")
    set_library.set_meta("normalizer:sound", dict(saved, analyzer="dsp@1"))  # a view of DSP statistics alone
    with pytest.raises(TonearmError, match="keeps no stretches"):
        SetMatcher(set_library, "sound")
    with pytest.raises(TonearmError, match="unknown match"):
        similar(set_library, f"{0:016x}", match="nearest")
    with pytest.raises(TonearmError, match="does not combine"):
        similar(set_library, f"{0:016x}", match="sets", hubness=True)
    for bad in ({"candidates": 0}, {"candidates": 5001}, {"candidates": 50, "match": "vector"}):
        with pytest.raises(TonearmError, match="--candidates"):
            similar(set_library, f"{0:016x}", **({"match": "sets"} | bad))


def test_an_index_run_keeps_stretches_and_upgrades_an_older_library(tmp_path, music_dir):
    """Rows analysed by ``fused@2`` (no stretches) are searchable by sets at once (as sets of one),
    and the next index run re-analyses their sound view only, which then keeps stretches."""
    music = tmp_path / "music"
    shutil.copytree(music_dir / "tonal", music / "tonal")
    shutil.copytree(music_dir / "chirp", music / "chirp")
    lib = tmp_path / "lib"
    views = {"sound": "fused", "melody": "melody"}
    store = open_store(str(lib))
    Indexer(store, views).run([str(music)], workers=2)
    rows = list(store.scan())
    _, counts = segment_raws(np.array([r[raw_column("sound")] for r in rows]), [r[fused.SEGMENTS_FIELD] for r in rows])
    assert all(1 <= n <= fused.SEGMENTS for n in counts)
    _stretch_vectors_are_current(store, rows, counts)
    target = rows[0]["id"]
    fresh = run_cli("similar", target, "--match", "sets", "--json", "-k", "3", "--library", str(lib))
    assert fresh.returncode == 0, fresh.stderr
    assert len(json.loads(fresh.stdout)["results"]) == 3

    for row in rows:  # as fused@2 left them
        row[fused.SEGMENTS_FIELD] = row[stretches.set_field("sound")] = None
        row["views_json"] = json.dumps(dict(json.loads(row["views_json"]), sound="fused@2"))
    store.upsert(rows)
    store.set_meta("normalizer:sound", dict(store.get_meta("normalizer:sound"), analyzer="fused@2"))
    old = run_cli("similar", target, "--match", "sets", "--json", "-k", "3", "--library", str(lib))
    assert old.returncode != 0 and "was analysed by fused@2; finish an index run first" in old.stderr
    assert run_cli("similar", target, "--json", "-k", "3", "--library", str(lib)).returncode == 0  # vectors still serve

    indexer = Indexer(open_store(str(lib)), views)
    files = list(iter_audio_files([str(music)]))
    jobs, _ = indexer._plan(files, {r["path"]: r for r in rows}, {}, False, IndexReport())
    assert len(jobs) == len(rows) and all(set(j.views) - j.fresh_views == {"sound"} for j in jobs)  # sound only
    report = indexer.run([str(music)], workers=2)
    assert report.updated == len(rows) and report.added == 0 and not report.failed
    store = open_store(str(lib))
    after = list(store.scan())
    assert all(r[fused.SEGMENTS_FIELD] for r in after)
    _stretch_vectors_are_current(store, after, counts)
    assert all(json.loads(r["views_json"]) == {"sound": "fused@3", "melody": "melody@1"} for r in after)
    bad = run_cli("similar", target, "--match", "sets", "--view", "melody", "--library", str(lib))
    assert bad.returncode != 0 and "keeps no stretches" in bad.stderr and "Traceback" not in bad.stderr


def test_the_http_api_matches_sets_on_request(set_library):
    from fastapi.testclient import TestClient

    from tonearm.api.app import ServerConfig, create_app

    client = TestClient(create_app(ServerConfig(library=set_library.location)))
    url = f"/api/tracks/{0:016x}/similar"
    plain = client.get(url, params={"k": 2}).json()
    sets = client.get(url, params={"k": 2, "match": "sets"}).json()
    assert plain["results"][0]["title"] == "t1" and sets["results"][0]["title"] == "t2"
    assert sets["query"]["match"] == "sets"
    assert client.get(url, params={"match": "nearest"}).status_code == 422
    assert client.get(url, params={"match": "sets", "candidates": 0}).status_code == 422
    assert client.get(url, params={"match": "sets", "candidates": 30}).json()["query"]["candidates"] == 30
    melody = client.get(url, params={"match": "sets", "view": "melody"})
    assert melody.status_code == 400 and "stretches" in melody.json()["detail"]


def _stretch_vectors_are_current(store, rows: list[dict], counts: np.ndarray) -> None:
    """Every row's stored stretch vectors were derived with the statistics in force, as a query would derive them."""
    std = Standardizer.from_json(store.get_meta("normalizer:sound"))
    raws = np.array([r[raw_column("sound")] for r in rows])
    expected, n = stretches.derive(FusedSoundAnalyzer(), std, raws, [r[fused.SEGMENTS_FIELD] for r in rows])
    assert n.tolist() == list(counts)
    stored = [stretches.decode(r[stretches.set_field("sound")], std) for r in rows]
    assert all(s is not None for s in stored)
    assert np.allclose(np.concatenate(stored), expected, atol=1e-6)


def test_the_first_stage_grows_with_the_library():
    pools = [sets_pool(n) for n in (0, 10, 50_000, 100_000, 1_000_000, 10**9)]
    assert pools[:3] == [SETS_POOL] * 3  # a small library: the fixed pool
    assert pools[3] > SETS_POOL and pools[4] == 800  # measured at 1M: recall 0.95 against exact sets
    assert pools == sorted(pools) and pools[-1] == MAX_CANDIDATES
