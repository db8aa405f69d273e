"""The HTTP API through a real uvicorn process: endpoints, uploads (good and bad), streaming, jobs, safety."""

from __future__ import annotations

import io
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import soundfile as sf
from conftest import SR, serve_library, synth, wait_for_job, write_audio

from tonearm.library.indexer import Indexer
from tonearm.store import open_store

VIEWS = {"sound": "dsp", "melody": "melody", "words": "words", "fingerprint": "chromaprint", "landmarks": "landmarks"}


def _wav_bytes(kind: str, seconds: float = 4.0, seed: int = 0) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, synth(kind, seconds, seed=seed), SR, format="WAV")
    return buf.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("api")
    media = root / "media"
    for i, kind in enumerate(("tonal", "percussive", "noise", "chirp")):
        for j in range(2):
            write_audio(media / kind / f"{kind}_{j}.flac", synth(kind, 5.0, seed=10 * i + j),
                        tags={"title": f"{kind} {j}", "genre": kind.title()})  # fmt: skip
    (media / "tonal" / "tonal_0.txt").write_text("You swore you would never lie to me, and I found the letters\n")
    lib = root / "lib"
    Indexer(open_store(str(lib)), VIEWS).run([str(media)], workers=2)
    proc, base = serve_library(lib, media, "--max-upload-mb", "1")
    yield base, media, lib
    proc.terminate()
    proc.wait(timeout=30)


def test_library_endpoints(server) -> None:
    base, _, _ = server
    stats = httpx.get(f"{base}/api/stats").json()
    assert stats["tracks"] == 8 and stats["views"]["sound"] > 0
    tracks = httpx.get(f"{base}/api/tracks", params={"where": "genre = 'Noise'"}).json()
    assert tracks["total"] == 2 and {t["genre"] for t in tracks["tracks"]} == {"Noise"}
    bad = httpx.get(f"{base}/api/tracks", params={"where": "genre = "})
    assert bad.status_code == 400 and "detail" in bad.json()
    tid = tracks["tracks"][0]["id"]
    detail = httpx.get(f"{base}/api/tracks/{tid}").json()
    assert detail["genre"] == "Noise" and "vec_sound" not in detail and detail["views"]["sound"] == "dsp@1"
    assert httpx.get(f"{base}/api/tracks/0123456789abcdef").status_code == 404
    lyr = httpx.get(f"{base}/api/tracks", params={"where": "title = 'tonal 0'"}).json()["tracks"][0]
    d = httpx.get(f"{base}/api/tracks/{lyr['id']}").json()
    assert "betrayal" in d["emotions"] and d["passages"][-1]["source"] == "lyrics"
    assert "/api/search" in httpx.get(f"{base}/openapi.json").json()["paths"]
    assert httpx.get(f"{base}/docs").status_code == 200
    # the web app can be put on a phone's home screen: a manifest and an icon, linked from the page
    page = httpx.get(f"{base}/").text
    assert '<link rel="manifest" href="manifest.webmanifest">' in page
    manifest = httpx.get(f"{base}/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    assert manifest.json()["display"] == "standalone" and manifest.json()["start_url"] == "./"
    icon = httpx.get(f"{base}/{manifest.json()['icons'][0]['src']}")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


def test_similar_search_map_and_stream(server) -> None:
    base, _, _ = server
    tid = httpx.get(f"{base}/api/tracks", params={"where": "title = 'chirp 0'"}).json()["tracks"][0]["id"]
    sim = httpx.get(f"{base}/api/tracks/{tid}/similar", params={"k": 3}).json()
    assert len(sim["results"]) == 3 and tid not in [r["id"] for r in sim["results"]]
    assert sim["results"][0]["title"] == "chirp 1"
    found = httpx.get(f"{base}/api/search", params={"q": "he lied to me, letters", "mode": "words"}).json()
    assert found["results"][0]["title"] == "tonal 0" and "lie" in found["results"][0]["passage"]
    assert httpx.get(f"{base}/api/search", params={"q": "x", "mode": "vibes"}).status_code == 400
    assert httpx.get(f"{base}/api/search", params={"q": ""}).status_code == 422
    m = httpx.get(f"{base}/api/map").json()
    assert len(m["points"]) == 8 and m["label_field"] == "genre"
    assert all(-1 <= p["x"] <= 1 and -1 <= p["y"] <= 1 for p in m["points"])
    whole = httpx.get(f"{base}/api/tracks/{tid}/audio")
    assert whole.status_code == 200 and whole.headers["content-type"] == "audio/flac"
    part = httpx.get(f"{base}/api/tracks/{tid}/audio", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"].startswith("bytes 100-199/")


def test_uploads_good_and_bad(server) -> None:
    base, _, _ = server
    ok = httpx.post(f"{base}/api/similar", files={"file": ("q.wav", _wav_bytes("chirp", seed=1))}, data={"k": "2"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["results"][0]["genre"] == "Chirp" and ok.json()["query"]["path"] is None
    garbage = httpx.post(f"{base}/api/similar", files={"file": ("x.mp3", os.urandom(20000))})
    assert garbage.status_code == 415 and "not audio" in garbage.json()["detail"]
    empty = httpx.post(f"{base}/api/similar", files={"file": ("e.wav", b"")})
    assert empty.status_code == 400
    huge = httpx.post(f"{base}/api/similar", files={"file": ("big.wav", b"\0" * (1 << 20) + b"\0" * 10)})
    assert huge.status_code == 413
    evil = httpx.post(f"{base}/api/similar", files={"file": ("../../etc/passwd", _wav_bytes("noise"))})
    assert evil.status_code == 200  # the name is never used as a path
    silence = httpx.post(f"{base}/api/hum", files={"file": ("h.wav", _wav_bytes("noise", 3.0))})
    assert silence.status_code == 400 and "tune" in silence.json()["detail"]
    assert httpx.get(f"{base}/api/stats").status_code == 200  # still serving


def test_index_job_with_concurrent_requests_and_safety(server, tmp_path: Path) -> None:
    base, media, _ = server
    outside = httpx.post(f"{base}/api/jobs", json={"roots": [str(tmp_path)]})
    assert outside.status_code == 403
    for j in range(4):
        write_audio(media / "new" / f"n{j}.flac", synth("tonal", 5.0, seed=100 + j), tags={"title": f"new {j}"})
    job = httpx.post(f"{base}/api/jobs", json={}).json()
    assert job["state"] in ("queued", "running")
    again = httpx.post(f"{base}/api/jobs", json={})
    assert again.status_code in (200, 400)  # refused while one runs (or the first already finished)
    tid = httpx.get(f"{base}/api/tracks", params={"limit": 1}).json()["tracks"][0]["id"]

    def hit(i: int) -> int:
        url = f"{base}/api/tracks/{tid}/similar" if i % 2 else f"{base}/api/search?q=letters&mode=words"
        return httpx.get(url, timeout=60).status_code

    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(hit, range(16)))
    assert codes == [200] * 16
    state = wait_for_job(base, job["id"])
    assert state["state"] == "done", state
    assert state["report"]["added"] == 4 and state["done"] == state["total"] == 4
    assert httpx.get(f"{base}/api/stats").json()["tracks"] == 12
    assert httpx.get(f"{base}/api/jobs/nope").status_code == 404
    shutil.rmtree(media / "new")


def test_token_required_off_loopback(tmp_path: Path) -> None:
    media = tmp_path / "m"
    write_audio(media / "a.flac", synth("tonal", 4.0))
    lib = tmp_path / "lib"
    Indexer(open_store(str(lib)), VIEWS).run([str(media)])
    proc, base = serve_library(lib, media, "--host", "0.0.0.0", "--token", "s3cret")
    try:
        files = {"file": ("q.wav", _wav_bytes("tonal"))}
        assert httpx.post(f"{base}/api/similar", files=files).status_code == 401
        wrong = httpx.post(f"{base}/api/similar", files=files, headers={"X-Tonearm-Token": "nope"})
        assert wrong.status_code == 401
        ok = httpx.post(f"{base}/api/similar", files=files, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert httpx.post(f"{base}/api/jobs", json={}).status_code == 401
        assert httpx.get(f"{base}/api/stats").status_code == 200  # reading needs no token
        assert httpx.get(f"{base}/api/config").json()["requires_token"] is True
        assert (
            "access-control-allow-origin" not in httpx.get(f"{base}/api/stats", headers={"Origin": "http://x"}).headers
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_cancel_an_index_job_then_resume(server) -> None:
    base, media, _ = server
    before = httpx.get(f"{base}/api/stats").json()["tracks"]
    for j in range(10):
        write_audio(media / "batch" / f"b{j}.flac", synth("chirp", 6.0, seed=200 + j))
    job = httpx.post(f"{base}/api/jobs", json={}).json()
    for _ in range(200):
        if httpx.get(f"{base}/api/jobs/{job['id']}").json()["done"] >= 1:
            break
        time.sleep(0.05)
    assert httpx.post(f"{base}/api/jobs/{job['id']}/cancel").status_code == 200
    state = wait_for_job(base, job["id"])
    assert state["state"] == "cancelled", state
    partial = httpx.get(f"{base}/api/stats").json()["tracks"]
    assert before < partial < before + 10  # committed tracks stay
    resumed = httpx.post(f"{base}/api/jobs", json={}).json()
    state = wait_for_job(base, resumed["id"])
    assert state["state"] == "done" and state["report"]["added"] == before + 10 - partial
    shutil.rmtree(media / "batch")


def test_radio_and_path_endpoints(server) -> None:
    base, _, _ = server
    rows = httpx.get(f"{base}/api/tracks", params={"limit": 50}).json()["tracks"]
    a, b = rows[0]["id"], rows[-1]["id"]
    r = httpx.get(f"{base}/api/radio", params={"seed": a, "length": 4, "rng_seed": 1, "where": "genre != 'Noise'"})
    assert r.status_code == 200, r.text
    items = r.json()["results"]
    assert 0 < len(items) <= 4 and a not in [i["id"] for i in items] and all(i["genre"] != "Noise" for i in items)
    again = httpx.get(f"{base}/api/radio", params={"seed": a, "length": 4, "rng_seed": 1, "where": "genre != 'Noise'"})
    assert [i["id"] for i in again.json()["results"]] == [i["id"] for i in items]
    p = httpx.get(f"{base}/api/path", params={"from": a, "to": b, "steps": 3})
    assert p.status_code == 200 and len(p.json()["results"]) == 3
    assert httpx.get(f"{base}/api/radio", params={"seed": "0123456789abcdef"}).status_code == 404
    assert httpx.get(f"{base}/api/radio", params={"seed": a, "weights": "sound=x"}).status_code == 400


def test_serve_on_a_port_in_use_or_out_of_range_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    from conftest import run_cli

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        res = run_cli("serve", "--library", str(tmp_path / "lib"), "--port", str(port), timeout=60)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-1500:]
    assert f"cannot listen on 127.0.0.1 port {port}: address already in use" in " ".join(res.stderr.split())
    assert "serving" not in res.stdout  # no line claiming a server that never started
    res = run_cli("serve", "--library", str(tmp_path / "lib"), "--port", "70000", timeout=60)
    assert res.returncode == 2 and "Traceback" not in res.stderr and "65535" in res.stderr
