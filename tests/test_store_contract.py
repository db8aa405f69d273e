"""The store contract: behaviour every backend must show (LanceDB, and PostgreSQL on a real server).

A new backend is added to ``BACKENDS`` and must pass every test here unchanged.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from tonearm.errors import FilterError, LibraryLockedError, NotFoundError
from tonearm.store import open_store
from tonearm.store.base import Store, raw_column, vector_column


def _lance(tmp_path) -> Store:
    return open_store(str(tmp_path / "lib"))


BACKENDS = ("lancedb", "postgresql")


def library_url(server: str, name: str) -> str:
    return f"{server}{'&' if '?' in server else '?'}library={name}"


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path) -> Store:
    if request.param == "lancedb":
        s = _lance(tmp_path)
    else:  # a fresh library (schema) per test on the session's server
        server = request.getfixturevalue("postgres_url")
        s = open_store(library_url(server, f"t_{uuid.uuid4().hex[:12]}"))
    yield s
    s.close()


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def _rows(n=6, dim=4):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        v = _unit(rng.standard_normal(dim))
        rows.append(
            {
                "id": f"{i:016x}",
                "path": f"/music/{i}.flac",
                "title": f"t{i}",
                "genre": "Jazz" if i % 2 else "Rock",
                "year": 1990 + i,
                "content_hash": f"h{i}",
                vector_column("sound"): v,
                raw_column("sound"): v,
            }
        )
    return rows


@pytest.fixture
def filled(store) -> Store:
    store.ensure_view("sound", 4)
    store.upsert(_rows())
    return store


def test_views_and_dimensions(store):
    store.ensure_view("sound", 4)
    store.ensure_view("sound", 4)  # idempotent
    assert store.views() == {"sound": 4}
    with pytest.raises(Exception, match="dimension"):
        store.ensure_view("sound", 8)


def test_upsert_get_count_and_replace(filled):
    assert filled.count() == 6
    row = filled.get(["0000000000000001"])[0]
    assert row["title"] == "t1" and row["year"] == 1991
    assert np.allclose(row[vector_column("sound")], _rows()[1][vector_column("sound")])
    filled.upsert([dict(_rows()[1], title="renamed")])
    assert filled.count() == 6  # replaced, not duplicated
    assert filled.get(["0000000000000001"])[0]["title"] == "renamed"


def test_missing_vectors_are_allowed_and_not_searchable(filled):
    filled.upsert([{"id": "ffffffffffffffff", "path": "/music/new.flac", "title": "no vector yet"}])
    assert filled.count() == 7
    hits = filled.knn("sound", _rows()[0][vector_column("sound")], k=10)
    assert "ffffffffffffffff" not in {h.row["id"] for h in hits}


def test_delete(filled):
    assert filled.delete(["0000000000000000", "0000000000000002", "nope"]) == 2
    assert filled.count() == 4
    assert filled.get(["0000000000000000"]) == []


def test_knn_orders_by_similarity_and_scores_cosine(filled):
    q = _rows()[3][vector_column("sound")]
    hits = filled.knn("sound", q, k=6)
    assert hits[0].row["id"] == "0000000000000003"
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0001 <= s <= 1.0001 for s in scores)


def test_knn_batch_matches_single_queries(filled):
    """The batched search (CSLS neighbourhoods) returns what one query per vector would."""
    vectors = np.array([r[vector_column("sound")] for r in _rows()[:3]], np.float32)
    batch = filled.knn_batch("sound", vectors, 4)
    assert len(batch) == 3
    for v, hits in zip(vectors, batch, strict=True):
        single = filled.knn("sound", v, 4)
        assert [h.row["id"] for h in hits] == [h.row["id"] for h in single]
        assert [h.score for h in hits] == pytest.approx([h.score for h in single], abs=1e-5)
    assert filled.knn_batch("sound", vectors, 0) == [[], [], []]


def test_knn_filters_and_exclusions(filled):
    q = _rows()[3][vector_column("sound")]
    flt = filled.compile_where("genre = 'Jazz' AND year >= 1991")
    assert {h.row["id"] for h in filled.knn("sound", q, k=10, where=flt)} == {
        "0000000000000001", "0000000000000003", "0000000000000005",
    }  # fmt: skip
    hits = filled.knn("sound", q, k=10, where=flt, exclude_ids=["0000000000000003"], exclude_hashes=["h5"])
    assert [h.row["id"] for h in hits] == ["0000000000000001"]
    assert filled.size_estimate() == 6  # a small table's estimate is its count


def test_excluded_copies_never_cost_results(store):
    # A query track with 20 copies (one content hash) nearer than every other track: excluding them
    # must still give k other tracks, however many extra results a backend asks for to drop them.
    store.ensure_view("sound", 4)
    rows = _rows(30)
    near = _unit([1, 0, 0, 0])
    for i, row in enumerate(rows[:21]):
        row[vector_column("sound")] = _unit(near + 0.001 * i * np.array([0, 1, 0, 0]))
        row["content_hash"] = "same"
    store.upsert(rows)
    hits = store.knn("sound", near, k=5, exclude_ids=[rows[0]["id"]], exclude_hashes=["same"], columns=["title"])
    assert len(hits) == 5
    assert not {h.row["title"] for h in hits} & {r["title"] for r in rows[:21]}
    assert all(set(h.row) == {"title"} for h in hits)  # the columns asked for, no more
    by_score = sorted(rows[21:], key=lambda r: -float(np.dot(near, r[vector_column("sound")])))
    assert [h.row["title"] for h in hits] == [r["title"] for r in by_score[:5]]
    ids_only = store.knn("sound", near, k=3, exclude_ids=[r["id"] for r in rows[:2]])
    assert [h.row["id"] for h in ids_only] == [r["id"] for r in rows[2:5]]


def test_scan_and_filters(filled):
    rows = list(filled.scan(filled.compile_where("genre = 'Rock'"), columns=["id", "genre"]))
    assert len(rows) == 3 and {r["genre"] for r in rows} == {"Rock"}
    assert filled.count(filled.compile_where("year BETWEEN 1991 AND 1993")) == 3
    assert filled.find_by_path("/music/4.flac")["id"] == "0000000000000004"
    assert filled.find_by_path("/nope") is None


def test_scan_batches_gives_columns_and_nan_rows_for_missing_vectors(filled):
    filled.upsert([{"id": "ffffffffffffffff", "path": "/music/new.flac", "title": "no vector yet"}])
    vec = vector_column("sound")
    batches = list(filled.scan_batches(["id", vec, "genre"], batch_rows=3))
    assert [len(b["id"]) for b in batches] == [3, 3, 1]
    ids = [i for b in batches for i in b["id"]]
    assert sorted(ids) == sorted([r["id"] for r in _rows()] + ["ffffffffffffffff"])
    mats = np.concatenate([b[vec] for b in batches])
    assert mats.shape == (7, 4) and mats.dtype == np.float32
    want = {r["id"]: r[vec] for r in _rows()}
    for i, v in zip(ids, mats, strict=True):
        if i == "ffffffffffffffff":
            assert np.isnan(v).all()
        else:
            assert np.allclose(v, want[i], atol=1e-6)
    jazz = list(filled.scan_batches(["id"], filled.compile_where("genre = 'Jazz'")))
    assert sorted(i for b in jazz for i in b["id"]) == ["0000000000000001", "0000000000000003", "0000000000000005"]


def test_set_vectors_replaces_only_that_column_of_existing_rows(filled):
    vec, raw = vector_column("sound"), raw_column("sound")
    new = np.array([_unit([1, 0, 0, 0]), _unit([0, 1, 0, 0])], np.float32)
    filled.set_vectors("sound", ["0000000000000002", "0000000000000004"], new)
    filled.set_vectors("sound", ["deleted-meanwhile"], new[:1])  # unknown id: skipped, not inserted
    filled.set_vectors("sound", [], new[:0])
    assert filled.count() == 6
    rows = {r["id"]: r for r in filled.get(["0000000000000002", "0000000000000004", "0000000000000003"])}
    assert np.allclose(rows["0000000000000002"][vec], new[0]) and np.allclose(rows["0000000000000004"][vec], new[1])
    assert np.allclose(rows["0000000000000002"][raw], _rows()[2][raw])  # everything else kept
    assert rows["0000000000000002"]["title"] == "t2" and rows["0000000000000002"]["year"] == 1992
    assert np.allclose(rows["0000000000000003"][vec], _rows()[3][vec])  # other rows untouched
    assert filled.knn("sound", new[1], k=1)[0].row["id"] == "0000000000000004"


def test_fields_are_written_with_the_vectors(filled):
    """``set_vectors`` and ``rewrite_vectors`` (same dimension, and a new one) write other columns of the
    same rows in the same pass (a view's stretch vectors); rows left out keep theirs."""
    vec = vector_column("sound")
    filled.ensure_fields({"ana_sound_set": "string"})
    filled.set_vectors("sound", ["0000000000000001"], np.array([_unit([0, 0, 1, 0])]), {"ana_sound_set": ["one"]})
    row = filled.get(["0000000000000001"])[0]
    assert row["ana_sound_set"] == "one" and np.allclose(row[vec], _unit([0, 0, 1, 0]))

    def even_rows(batch):
        keep = np.array([int(i, 16) % 2 == 0 for i in batch["id"]])
        ids = [i for i, k in zip(batch["id"], keep, strict=True) if k]
        return keep, np.tile(_unit([1, 1, 0, 0]), (int(keep.sum()), 1)), {"ana_sound_set": [f"s{i[-1]}" for i in ids]}

    assert filled.rewrite_vectors("sound", even_rows, ["id"], batch_rows=4) == 3
    got = {r["id"][-1]: r["ana_sound_set"] for r in filled.scan(columns=["id", "ana_sound_set"])}
    assert got == {"0": "s0", "1": "one", "2": "s2", "3": None, "4": "s4", "5": None}

    def all_rows_shorter(batch):
        n = len(batch["id"])
        return np.ones(n, bool), np.tile(_unit([1, 0]), (n, 1)), {"ana_sound_set": [f"d{i[-1]}" for i in batch["id"]]}

    assert filled.rewrite_vectors("sound", all_rows_shorter, ["id"], batch_rows=4, dim=2) == 6
    assert filled.views() == {"sound": 2}
    got = {r["id"][-1]: r["ana_sound_set"] for r in filled.scan(columns=["id", "ana_sound_set"])}
    assert got == {str(i): f"d{i}" for i in range(6)}


def test_invalid_filter_is_clear(filled):
    with pytest.raises(FilterError, match="unknown field"):
        filled.compile_where("colour = 'red'")


def test_custom_fields_become_filterable(filled):
    filled.ensure_fields({"mood": "string", "bpm": "number", "live": "bool"})
    filled.upsert([dict(_rows()[0], mood="calm", bpm=92.0, live=True)])
    assert filled.fields()["mood"] == "string"
    assert filled.count(filled.compile_where("mood = 'calm' AND bpm < 100 AND live = TRUE")) == 1


def test_meta_and_failures(store):
    assert store.get_meta("x") is None
    store.set_meta("x", {"a": [1, 2]})
    store.set_meta("x", {"a": [3]})
    assert store.get_meta("x") == {"a": [3]}
    store.get_meta("x")["a"].append(4)  # what a caller does with its copy is not remembered
    assert store.get_meta("x") == {"a": [3]}
    other = open_store(store.location)  # another process's write is seen at once, however often read before
    other.set_meta("x", {"a": [5]})
    other.set_meta("y", 1)
    assert store.get_meta("x") == {"a": [5]} and store.get_meta("y") == 1
    store.record_failures([{"path": "/bad.mp3", "reason": "truncated", "size": 10, "mtime_ns": 5}])
    store.record_failures([{"path": "/bad.mp3", "reason": "still truncated", "size": 10, "mtime_ns": 6}])
    (f,) = store.failures()
    assert f["reason"] == "still truncated"
    store.clear_failures(["/bad.mp3"])
    assert store.failures() == []


def test_revision_changes_with_every_write(filled):
    first = filled.revision()
    assert filled.revision() == first
    row = filled.get(["0000000000000001"])[0]
    filled.upsert([dict(row, title="changed")])
    second = filled.revision()
    assert second != first
    assert open_store(filled.location).revision() == second  # another process sees the same token
    filled.delete(["0000000000000002"])
    assert filled.revision() not in (first, second)


def test_listener_state_is_per_key(store):
    assert store.state("star") == {} and store.state_kinds() == []
    store.put_state("star", {"a": {"at": 1.0}, "b": {"at": 2.0}})
    store.put_state("star", {"b": {"at": 3.0}})  # replaces b, leaves a
    store.put_state("playlist", {"pl-1": {"name": "x", "entries": ["a", "b", "a"]}})
    assert store.state("star") == {"a": {"at": 1.0}, "b": {"at": 3.0}}
    assert store.state("star", ["b", "zzz"]) == {"b": {"at": 3.0}} and store.state("star", []) == {}
    assert store.state("playlist")["pl-1"]["entries"] == ["a", "b", "a"]
    assert store.state_kinds() == ["playlist", "star"]
    # A second process writing another key of the same kind loses nothing.
    other = open_store(store.location)
    other.put_state("star", {"c": {"at": 4.0}})
    assert sorted(store.state("star")) == ["a", "b", "c"]
    assert store.delete_state("star", ["a", "nope"]) == 1
    assert sorted(store.state("star")) == ["b", "c"] and store.state("rating") == {}


def test_landmark_postings_vote_replace_and_remove(store):
    rng = np.random.default_rng(3)
    tracks = {
        f"{i:016x}": (f"key{i}", rng.integers(0, 2**21, 800).astype(np.uint32), np.sort(rng.integers(0, 3000, 800)))
        for i in range(4)
    }
    assert store.postings_tracks() == {} and not store.has_postings()
    store.update_postings(tracks, [])
    assert store.postings_tracks() == {t: v[0] for t, v in tracks.items()} and store.has_postings()
    tid = "0000000000000002"
    h, t = tracks[tid][1][100:300], tracks[tid][2][100:300]
    names, offsets, counts = store.vote_postings(h, t - 250, cap=2000, min_score=3)
    best = int(np.argmax(counts))
    assert names[best] == tid and offsets[best] == 250 and counts[best] >= 190
    assert all(c < 20 for n, c in zip(names, counts, strict=True) if n != tid)  # chance agreement is small
    # A budget bounds the postings read (the rarest hashes first): fewer votes, the same answer.
    names, offsets, counts = store.vote_postings(h, t - 250, cap=2000, min_score=3, budget=120)
    best = int(np.argmax(counts))
    assert names[best] == tid and offsets[best] == 250 and 40 <= counts[best] <= 120
    assert store.vote_postings(h, t - 250, cap=2000, min_score=3, budget=0)[0] == []
    # A weight per query entry decides what the budget reads first: a query holding two tracks' hashes finds the
    # one its weights favour.
    one = "0000000000000001"
    both_h, both_t = np.concatenate([h, tracks[one][1][:200]]), np.concatenate([t - 250, tracks[one][2][:200] - 100])
    for favour, want, offset in ((0, tid, 250), (1, one, 100)):
        weights = np.repeat([1.0 - 0.99 * favour, 0.01 + 0.99 * favour], 200)
        names, offsets, counts = store.vote_postings(both_h, both_t, 2000, 3, budget=120, weights=weights)
        best = int(np.argmax(counts))
        assert names[best] == want and offsets[best] == offset and 40 <= counts[best] <= 120
        assert all(c < 20 for n, c in zip(names, counts, strict=True) if n != want)
    other = rng.integers(0, 2**21, 800).astype(np.uint32), np.sort(rng.integers(0, 3000, 800))
    store.update_postings({tid: ("new", *other)}, ["0000000000000000"])
    keys = store.postings_tracks()
    assert keys[tid] == "new" and "0000000000000000" not in keys and len(keys) == 3
    names, _, _ = store.vote_postings(h, t - 250, cap=2000, min_score=20)
    assert tid not in names  # its old postings are gone
    assert store.vote_postings(np.zeros(0, np.uint32), np.zeros(0, np.int64))[0] == []


def test_write_lock_is_exclusive(store):
    with store.write_lock():
        other = open_store(store.location)
        with pytest.raises(LibraryLockedError), other.write_lock():
            pass
    with store.write_lock():  # released
        pass


def test_opening_a_missing_library_without_create_is_clear(tmp_path):
    with pytest.raises(NotFoundError, match="no library"):
        open_store(str(tmp_path / "nothing"), create=False)


def test_keep_one_copy_leaves_single_rows_alone(filled):
    assert filled.keep_one_copy(["0000000000000001", "not-there"], lambda copies: copies[0]) == 0
    assert filled.count() == 6 and filled.get(["0000000000000001"])[0]["title"] == "t1"
