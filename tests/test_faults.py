"""What real machines do to a library, injected for real: a disk that fills up, a read-only mount,
damage a crash can leave (found and repaired by ``tonearm check``), libraries from other versions."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import run_cli, serve_library, synth, wait_for_job, write_audio
from mounts import grow, read_only_view, small_disk
from same_library import assert_same_library, rows_of

from tonearm.library.scan import track_id
from tonearm.store import open_store
from tonearm.store.formats import FORMAT_FILE, FORMAT_VERSION

N_FILES = 8
KINDS = ("tonal", "percussive", "noise", "chirp")


@pytest.fixture(scope="module")
def music(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faults-music")
    for i in range(N_FILES):
        write_audio(root / f"{i:02d}.flac", synth(KINDS[i % 4], 12.0, seed=i, f0=150 + 7 * i),
                    tags={"title": f"Piece {i}", "artist": f"Band {i % 3}"})  # fmt: skip
    return root


@pytest.fixture(scope="module")
def reference(music, tmp_path_factory) -> Path:
    """The library an uninterrupted run makes: what every faulted run must converge to."""
    lib = tmp_path_factory.mktemp("faults-ref") / "lib"
    res = run_cli("index", str(music), "-l", str(lib), "-j", "2")
    assert res.returncode == 0, res.stderr
    return lib


def _one_line_error(res, *words: str) -> None:
    assert res.returncode == 2, (res.returncode, res.stdout[-800:], res.stderr[-2000:])
    assert "Traceback" not in res.stderr
    text = " ".join(res.stderr.split())  # the progress bar may precede it on stderr
    assert "error:" in text and all(w in text[text.index("error:") :] for w in words), text


def _no_temporaries(lib: Path) -> None:
    assert not [p for p in lib.rglob("*") if p.name.endswith(".tmp")]


# ---- disk full ---------------------------------------------------------------------------------
def test_index_on_a_full_disk_stops_keeps_what_it_committed_and_resumes(music, reference, tmp_path):
    with small_disk(tmp_path / "disk", "300k") as disk:
        lib = disk / "lib"
        res = run_cli("index", str(music), "-l", str(lib), "-j", "2")
        _one_line_error(res, "disk full", "tracks committed", "run the same command again")
        committed = open_store(str(lib), create=False).count()
        assert 0 < committed < N_FILES, committed
        assert f"{committed} in the library" in " ".join(res.stderr.split())
        _no_temporaries(lib)
        # What is committed is whole: every row has the analysis it claims.
        for row in rows_of(lib).values():
            claimed = json.loads(row["views_json"])
            assert claimed and all(row.get(f"raw_{v}") is not None for v in claimed if f"raw_{v}" in row)
        grow(disk, "64m")  # space is freed
        again = run_cli("index", str(music), "-l", str(lib), "-j", "2", "--json")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["added"] == N_FILES - committed
        assert run_cli("check", "-l", str(lib)).returncode == 0
        assert_same_library(lib, reference)


def test_store_copy_to_a_full_disk_resumes(reference, tmp_path):
    with small_disk(tmp_path / "disk", "200k") as disk:
        dest = disk / "copy"
        res = run_cli("store", "copy", str(reference), str(dest))
        _one_line_error(res, "disk full", "tracks copied and kept", "again to resume")
        _no_temporaries(dest)
        grow(disk, "64m")
        again = run_cli("store", "copy", str(reference), str(dest))
        assert again.returncode == 0 and "verified: same rows, same checksum" in again.stdout, again.stderr
        assert_same_library(dest, reference)


# ---- read-only mount ---------------------------------------------------------------------------
def test_read_only_library_answers_queries_and_serves_but_refuses_writes(music, reference, tmp_path):
    with read_only_view(reference, tmp_path / "ro") as ro:
        stats = run_cli("stats", "-l", str(ro), "--json")
        assert stats.returncode == 0 and json.loads(stats.stdout)["tracks"] == N_FILES, stats.stderr
        similar = run_cli("similar", str(music / "00.flac"), "-l", str(ro), "--json")
        assert similar.returncode == 0, similar.stderr
        assert run_cli("check", "-l", str(ro)).returncode == 0
        _one_line_error(run_cli("index", str(music), "-l", str(ro)), "read-only file system", "searched and served")
        _one_line_error(run_cli("check", "--repair", "-l", str(ro)), "read-only file system")
        _one_line_error(run_cli("levels", "-l", str(ro), "-j", "1"), "read-only file system")


def test_read_only_library_through_the_server(music, reference, tmp_path, monkeypatch):
    monkeypatch.setenv("TONEARM_SUBSONIC_SECRET", "ro-secret")  # nothing can be stored in a read-only library
    with read_only_view(reference, tmp_path / "ro") as ro:
        proc, base = serve_library(ro, music, "--subsonic")
        try:
            tracks = httpx.get(f"{base}/api/tracks").json()["tracks"]
            tid = tracks[0]["id"]
            assert httpx.get(f"{base}/api/tracks/{tid}/similar").status_code == 200
            assert httpx.get(f"{base}/api/radio", params={"seed": tid}).status_code == 200
            assert httpx.get(f"{base}/api/home").status_code == 200
            with open(music / "05.flac", "rb") as f:
                found = httpx.post(f"{base}/api/identify", files={"file": ("clip.flac", f)}, timeout=60).json()
            assert _recording(reference, found["results"][0]["id"]) == _recording(
                reference, track_id(str(music / "05.flac"))
            )
            job = httpx.post(f"{base}/api/jobs", json={}).json()
            state = wait_for_job(base, job["id"])
            assert state["state"] == "failed" and "read-only file system" in state["error"], state
            star = httpx.put(f"{base}/api/stars/{tid}")
            assert star.status_code == 403 and "read-only" in star.json()["detail"]
            saved = httpx.post(f"{base}/api/playlists", json={"name": "x", "tracks": [tid]})
            assert saved.status_code == 403 and "read-only" in saved.json()["detail"]
            assert httpx.get(f"{base}/api/playlists").json() == {"playlists": []}
            auth = {"u": "tonearm", "p": "ro-secret", "v": "1.16.1", "c": "test", "f": "json"}
            ok = httpx.get(f"{base}/rest/getAlbumList2", params={**auth, "type": "newest"}).json()
            assert ok["subsonic-response"]["status"] == "ok"
            refused = httpx.get(f"{base}/rest/star", params={**auth, "id": tid}).json()["subsonic-response"]
            assert refused["status"] == "failed" and "read-only" in refused["error"]["message"]
            assert proc.poll() is None
        finally:
            proc.kill()
            out = proc.communicate()[0]
        assert "Traceback" not in out


# ---- a bad temporary folder --------------------------------------------------------------------


def test_a_tmpdir_that_cannot_be_written_is_replaced_with_a_warning(music, tmp_path):
    """LanceDB spills a commit's merge into $TMPDIR: a bad one used to end the run with a Rust traceback."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    few = tmp_path / "few"
    few.mkdir()
    for name in ("00.flac", "01.flac"):
        shutil.copy(music / name, few / name)
    res = run_cli("index", str(few), "-l", str(tmp_path / "lib"), "-j", "1", "--json",
                  env={"TMPDIR": str(blocker / "tmp")})  # fmt: skip
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert f"$TMPDIR={blocker / 'tmp'} is not a writable folder: using /tmp" in res.stderr
    assert json.loads(res.stdout)["added"] == 2


# ---- tonearm check -----------------------------------------------------------------------------
def test_check_finds_what_a_crash_can_leave_and_repair_restores_it(music, reference, tmp_path):
    lib = tmp_path / "lib"
    shutil.copytree(reference, lib)
    store = open_store(str(lib), create=False)
    rows = sorted(store.scan(), key=lambda r: r["id"])
    before = {r["id"]: r for r in rows}
    # Damage of the kinds an interrupted run, a hand copy or a bug leaves:
    a = dict(rows[0], vec_sound=None)  # normalised vector missing (killed before the refit)
    b = dict(rows[1], vec_melody=None, raw_melody=None)  # analysis claimed, vector lost
    store.upsert([a, b])
    store._tracks.add([rows[2]])  # a second row with the same id (a non-atomic writer)
    store.record_failures([{k: rows[3][k] for k in ("path", "size", "mtime_ns")} | {"reason": "old"}])
    store.upsert([dict(rows[4], dup_group="deadbeefdeadbeef")])  # names a kept copy that is gone
    manifest_path = lib / "landmarks" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    some_segment = next(iter(manifest["tracks"].values()))
    del manifest["tracks"][rows[5]["id"]]  # killed between the row's commit and its postings
    manifest["tracks"]["0000000000000000"] = some_segment  # postings of a removed track
    manifest_path.write_text(json.dumps(manifest))
    (lib / "landmarks" / "seg-999999.offsets.npy").write_bytes(b"half")  # a segment never published
    (lib / f".{FORMAT_FILE}.4242.tmp").write_bytes(b"half")  # a killed atomic write

    res = run_cli("check", "-l", str(lib), "--json")
    assert res.returncode == 1, res.stderr
    found = {(f["check"], f["problem"].split(" (")[0]) for f in json.loads(res.stdout)["findings"]}
    assert {c for c, _ in found} == {"storage", "rows", "vectors", "postings", "duplicates", "failures"}
    assert len(found) == 9, found

    fixed = run_cli("check", "--repair", "-l", str(lib), "--json")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert all(f["fixed"] for f in json.loads(fixed.stdout)["findings"])
    assert run_cli("check", "-l", str(lib)).returncode == 0
    after = rows_of(lib)
    assert sorted(after) == sorted(before)
    np.testing.assert_allclose(after[rows[0]["id"]]["vec_sound"], before[rows[0]["id"]]["vec_sound"], atol=1e-6)
    assert after[rows[4]["id"]]["dup_group"] == before[rows[4]["id"]]["dup_group"]
    assert not open_store(str(lib), create=False).failures()
    _no_temporaries(lib)
    assert not (lib / "landmarks" / "seg-999999.offsets.npy").exists()
    # The lost melody is re-analysed by the next index run, and only that.
    res = run_cli("index", str(music), "-l", str(lib), "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["updated"] == 1, res.stdout + res.stderr
    assert_same_library(lib, reference)


def test_check_rebuilds_a_damaged_postings_index_from_the_rows(reference, tmp_path):
    lib = tmp_path / "lib"
    shutil.copytree(reference, lib)
    seg = sorted((lib / "landmarks").glob("seg-*.postings.npy"))[-1]
    seg.write_bytes(seg.read_bytes()[: seg.stat().st_size // 2])  # torn by a disk that lied about fsync
    res = run_cli("check", "-l", str(lib), "--json")
    assert res.returncode == 1 and "landmark segment seg-" in res.stdout, res.stdout
    assert run_cli("check", "--repair", "-l", str(lib)).returncode == 0
    assert_same_library(lib, reference)


# ---- library formats ---------------------------------------------------------------------------
def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def test_a_new_library_records_its_format(reference):
    info = json.loads((reference / FORMAT_FILE).read_text())
    assert info["format"] == FORMAT_VERSION and info["written_by"].startswith("tonearm ")


def test_a_library_from_a_newer_tonearm_is_refused_and_left_untouched(reference, tmp_path):
    lib = tmp_path / "lib"
    shutil.copytree(reference, lib)
    (lib / FORMAT_FILE).write_text(json.dumps({"format": FORMAT_VERSION + 1, "written_by": "tonearm 9"}))
    digest = _tree_digest(lib)
    for args in (("stats",), ("similar", "anything"), ("check", "--repair"), ("index", str(tmp_path))):
        _one_line_error(run_cli(*args, "-l", str(lib)), "newer tonearm", "upgrade tonearm")
    assert _tree_digest(lib) == digest


def test_a_format_1_library_is_upgraded_and_answers_every_query(music, reference, tmp_path):
    from library_formats import write_format_1

    lib = tmp_path / "lib"
    shutil.copytree(reference, lib)
    write_format_1(lib)
    clip = tmp_path / "clip.wav"
    write_audio(clip, synth(KINDS[1], 12.0, seed=1, f0=157)[22050 * 2 : 22050 * 11])
    with read_only_view(lib, tmp_path / "ro") as ro:  # an old library on a read-only mount cannot be upgraded
        _one_line_error(run_cli("stats", "-l", str(ro)), "older tonearm", "format 1", "writable disk")
    expect = {
        "similar": json.loads(run_cli("similar", str(music / "03.flac"), "-l", str(reference), "--json").stdout),
        "identify": json.loads(run_cli("identify", str(clip), "-l", str(reference), "--json").stdout),
    }
    res = run_cli("stats", "-l", str(lib), "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["schema_version"] == FORMAT_VERSION, res.stderr
    assert json.loads((lib / FORMAT_FILE).read_text())["format"] == FORMAT_VERSION
    queries = {"similar": ("similar", str(music / "03.flac")), "identify": ("identify", str(clip))}
    for args in (*queries.values(), ("tracks", "--where", "artist = 'Band 1'"), ("radio", str(music / "00.flac")),
                 ("check",)):  # fmt: skip
        res = run_cli(*args, "-l", str(lib), "--json")
        assert res.returncode == 0, (args, res.stderr)
        assert json.loads(res.stdout) not in ([], {}), args
    # The next index run groups duplicates (the pass a format-1 library never had): then the same answers.
    assert run_cli("index", str(music), "-l", str(lib), "--json").returncode == 0
    assert_same_library(lib, reference)
    for name, args in queries.items():
        got = json.loads(run_cli(*args, "-l", str(lib), "--json").stdout)
        # Same answers (identify: the same recording first; its probes may order equal scores either way).
        got_ids, want_ids = [r.get("id") for r in _results(got)], [r.get("id") for r in _results(expect[name])]
        if name == "identify":
            assert _recording(lib, got_ids[0]) == _recording(reference, want_ids[0])
        else:
            assert got_ids[:5] == want_ids[:5], name


def test_a_format_2_library_is_upgraded_without_re_analysis(music, reference, tmp_path):
    from library_formats import write_format_2

    lib = tmp_path / "lib"
    shutil.copytree(reference, lib)
    write_format_2(lib)
    want = json.loads(run_cli("similar", str(music / "03.flac"), "-l", str(reference), "--json").stdout)
    got = json.loads(run_cli("similar", str(music / "03.flac"), "-l", str(lib), "--json").stdout)
    assert [r["id"] for r in _results(got)] == [r["id"] for r in _results(want)]
    assert json.loads((lib / FORMAT_FILE).read_text())["format"] == FORMAT_VERSION
    again = json.loads(run_cli("index", str(music), "-l", str(lib), "--json").stdout)
    assert again["added"] == again["updated"] == 0
    assert_same_library(lib, reference)


def _recording(lib: Path, tid: str) -> str:
    """The recording a track is a copy of (its duplicate group's kept copy), else the track itself."""
    row = open_store(str(lib), create=False).get([tid], columns=["id", "dup_group"])[0]
    return row.get("dup_group") or row["id"]


def _results(out):
    if isinstance(out, dict):
        for key in ("results", "matches", "tracks"):
            if key in out:
                return out[key]
    return out


def test_disk_faults_are_recognised_through_every_layer_and_nothing_else_is():
    """How ENOSPC/EROFS reach us: errno, Rust's "(os error N)", numpy's short write, PostgreSQL, a chained cause."""
    from tonearm.errors import DiskFullError, ReadOnlyError, storage_fault

    full = [OSError(28, "No space left on device"), RuntimeError("LanceError(IO): ... (os error 28)"),
            OSError("5832 requested and 4096 written"), RuntimeError("could not extend file \"base/1/2\"")]  # fmt: skip
    for exc in full:
        assert isinstance(storage_fault(exc, "LIB"), DiskFullError), exc
    assert isinstance(storage_fault(OSError(30, "Read-only file system")), ReadOnlyError)
    try:
        try:
            raise OSError(28, "No space left on device")
        except OSError as inner:
            raise RuntimeError("commit failed") from inner
    except RuntimeError as outer:
        assert str(storage_fault(outer, "LIB")) == "disk full at LIB"
    for exc in (ValueError("3 requested and available"), OSError(2, "No such file"), RuntimeError("boom")):
        assert storage_fault(exc) is None, exc


def test_repairing_a_duplicated_id_never_leaves_the_track_out(reference, tmp_path, monkeypatch):
    """Copies of one id are removed in one commit: killed during it, the track is still there."""
    lib = tmp_path / "lib"
    shutil.copytree(reference, lib)
    store = open_store(str(lib), create=False)
    row = next(iter(store.scan()))
    newer = dict(row, analyzed_at=(row.get("analyzed_at") or 0.0) + 60, title="the newer copy")
    store._tracks.add([newer])  # a second row with the same id (a non-atomic writer)

    def copies() -> list[dict]:  # every row with the id (get() gives one per id)
        table = open_store(str(lib), create=False)._tracks
        return table.search().where(f"id = '{row['id']}'").limit(None).to_arrow().to_pylist()

    assert len(copies()) == 2
    monkeypatch.setenv("TONEARM_FAILPOINT_DELAY_MS", "0")
    killed = run_cli("check", "--repair", "-l", str(lib), env={"TONEARM_FAILPOINT": "keep_one_copy"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr  # killed as the delete commits
    assert len(copies()) in (1, 2)
    assert run_cli("check", "--repair", "-l", str(lib)).returncode == 0
    [kept] = copies()
    assert kept["title"] == "the newer copy"
    assert run_cli("check", "-l", str(lib)).returncode == 0


def test_a_format_3_library_gets_short_search_vectors_without_re_analysis(tmp_path, monkeypatch):
    """Format 3 stored a projected view padded with zeros to the raw length: it opens, answers queries, and its
    next index run rewrites the column at the projection's length from the raw column, analysing nothing."""
    from library_formats import write_format_3

    from tonearm.analyzers import get_analyzer
    from tonearm.analyzers.dsp import DspSoundAnalyzer
    from tonearm.analyzers.normalize import Discriminant
    from tonearm.library.indexer import Indexer

    dim = get_analyzer("dsp").dim
    recipe = Discriminant("test-lda-1", np.eye(dim), dims=3, ridge=1.0, min_tracks=6)
    monkeypatch.setattr(DspSoundAnalyzer, "discriminant", lambda self: recipe)
    music, lib = tmp_path / "music", tmp_path / "lib"
    for i in range(8):
        write_audio(music / f"{i}.wav", synth(("tonal", "chirp", "noise", "percussive")[i % 4], 2.0, seed=i))
    store = open_store(str(lib))
    Indexer(store, {"sound": "dsp"}).run([str(music)], workers=1)
    want = {r["id"]: r["vec_sound"] for r in store.scan(columns=["id", "vec_sound"])}
    store.close()
    write_format_3(lib)
    old = open_store(str(lib), create=False)
    assert json.loads((lib / FORMAT_FILE).read_text())["format"] == FORMAT_VERSION
    assert old.views() == {"sound": dim}  # still padded until the next index run
    first = next(iter(want))
    assert old.knn("sound", np.r_[want[first], np.zeros(dim - 3)], 1)[0].row["id"] == first
    report = Indexer(old, {"sound": "dsp"}).run([str(music)], workers=1)
    assert report.added == report.updated == 0 and old.views() == {"sound": 3}
    got = {r["id"]: r["vec_sound"] for r in old.scan(columns=["id", "vec_sound"])}
    assert got.keys() == want.keys() and all(np.allclose(got[k], want[k], atol=1e-6) for k in want)


def test_a_format_4_library_gets_replaygain_columns_filled_without_re_analysis(tmp_path):
    from library_formats import write_format_4

    from tonearm.library.indexer import Indexer

    music, lib = tmp_path / "music", tmp_path / "lib"
    tagged = write_audio(music / "tagged.flac", synth("tonal", 2.0), tags={"replaygain_track_gain": "-3.5 dB"})
    write_audio(music / "plain.flac", synth("chirp", 2.0, seed=1))
    store = open_store(str(lib))
    Indexer(store, {"sound": "dsp"}).run([str(music)], workers=1)
    store.close()
    write_format_4(lib)
    with read_only_view(lib, tmp_path / "ro") as ro:  # the columns cannot be added on a read-only mount
        _one_line_error(run_cli("stats", "-l", str(ro)), "older tonearm", "format 4", "writable disk")
    old = open_store(str(lib), create=False)
    assert json.loads((lib / FORMAT_FILE).read_text())["format"] == FORMAT_VERSION
    assert "replaygain_track_gain" in old.fields() and old.find_by_path(str(tagged))["replaygain_track_gain"] is None
    report = Indexer(old, {"sound": "dsp"}).run([str(music)], workers=1)
    assert (report.added, report.updated, report.metadata_refreshed) == (0, 0, 1)  # the tags, nothing analysed
    assert old.find_by_path(str(tagged))["replaygain_track_gain"] == -3.5
    old.close()
