"""Adding audio from URLs and podcast feeds, against HTTP servers the tests start on 127.0.0.1."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import FFMPEG, run_cli, speak, synth, write_audio

from tonearm.store import open_store

GARDEN_1 = ("Welcome back to the garden show. Today we grow tomatoes in small pots on a sunny balcony, "
            "water them often in a heat wave, and feed the soil with compost.")  # fmt: skip
GARDEN_2 = ("In this episode of the garden show we plant tomato seedlings in containers, water the pots "
            "every morning, and mix compost into the soil so the plants grow strong.")  # fmt: skip
SPACE_1 = ("This is the astronomy hour. Tonight we look at the planets through a small telescope, find "
           "Jupiter and its moons, and talk about how far away the stars are.")  # fmt: skip
SPACE_2 = ("On the astronomy hour we watch the night sky with a telescope: the rings of Saturn, the moons "
           "of Jupiter, and the distant stars of the galaxy.")  # fmt: skip


class Site(BaseHTTPRequestHandler):
    """Static files with Range support, and /drop/NAME: every full (non-range) GET after the first is cut
    after half the bytes, so a download only completes if the client resumes with a range request."""

    root: Path
    seen: dict[str, int]
    ranges: list[str]

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        drop = path.startswith("/drop/")
        name = path.removeprefix("/drop/").lstrip("/")
        f = self.root / name
        if not name or not f.is_file():
            self.send_error(404)
            return
        data = f.read_bytes()
        ctype = {".mp3": "audio/mpeg", ".html": "text/html", ".xml": "application/rss+xml", ".txt": "text/plain",
                 ".ogg": "audio/ogg"}.get(f.suffix, "application/octet-stream")  # fmt: skip
        start = 0
        m = re.match(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if m:
            start = int(m.group(1))
            type(self).ranges.append(self.headers["Range"])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("Last-Modified", formatdate(usegmt=True))
        self.end_headers()
        seen = type(self).seen
        seen[name] = seen.get(name, 0) + (0 if m else 1)
        if drop and not m and seen[name] > 1:
            self.wfile.write(data[start : start + (len(data) - start) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)  # the connection drops mid-download
            return
        self.wfile.write(data[start:])

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def site(tmp_path: Path):
    root = tmp_path / "www"
    root.mkdir()
    handler = type("H", (Site,), {"root": root, "seen": {}, "ranges": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root, handler
    server.shutdown()


def _mp3(path: Path, y=None, seconds: float = 5.0) -> Path:
    write_audio(path.with_suffix(".wav"), synth("tonal", seconds) if y is None else y)
    subprocess.run([FFMPEG, "-loglevel", "error", "-y", "-i", str(path.with_suffix(".wav")), str(path)], check=True)
    path.with_suffix(".wav").unlink()
    return path


def test_add_urls_direct_page_404_and_not_media(site, tmp_path: Path) -> None:
    base, root, _ = site
    _mp3(root / "song.mp3")
    _mp3(root / "inpage.mp3", synth("chirp", 5.0))
    (root / "page.html").write_text('<html><head><meta property="og:title" content="A talk about birds"></head>'
                                    '<body><audio src="inpage.mp3"></audio></body></html>')  # fmt: skip
    (root / "notes.txt").write_text("not audio at all\n")
    lib = tmp_path / "lib"
    urls = [f"{base}/song.mp3", f"{base}/page.html", f"{base}/gone.mp3", f"{base}/notes.txt"]
    res = run_cli("add", *urls, "-l", str(lib), "-j", "1", "--json", "--rate-limit", "50M")
    assert res.returncode == 0, res.stderr
    out = {r["url"]: r for r in json.loads(res.stdout.split("\nindexed")[0])}
    assert out[urls[0]]["path"] and out[urls[1]]["path"] and not out[urls[0]]["error"]
    assert "404" in out[urls[2]]["error"] and out[urls[2]]["path"] is None
    assert "not audio" in out[urls[3]]["error"] or "Unsupported URL" in out[urls[3]]["error"]
    store = open_store(str(lib))
    rows = {r["path"]: r for r in store.scan()}
    assert len(rows) == 2 and all(p.startswith(str(lib / "media")) and " " not in Path(p).name for p in rows)
    page_row = rows[out[urls[1]]["path"]]
    assert page_row["title"] == "A talk about birds"
    meta = json.loads(Path(out[urls[0]]["path"] + ".json").read_text())
    assert meta["source_url"] == urls[0]
    assert not list((lib / "media").glob("notes*"))  # the non-audio download was deleted
    again = run_cli("add", urls[0], "-l", str(lib), "--json")
    assert json.loads(again.stdout.split("\nindexed")[0])[0]["skipped"] is True
    urls_file = tmp_path / "urls.txt"
    urls_file.write_text(f"# my list\n{urls[0]}\n\n")
    assert run_cli("add", "--from-file", str(urls_file), "-l", str(lib)).returncode == 0


def test_download_resumes_after_a_dropped_connection(site, tmp_path: Path) -> None:
    base, root, handler = site
    _mp3(root / "long.mp3", seconds=20.0)
    lib = tmp_path / "lib"
    res = run_cli("add", f"{base}/drop/long.mp3", "-l", str(lib), "--json")
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout.split("\nindexed")[0])[0]
    assert got["path"], got
    assert Path(got["path"]).read_bytes() == (root / "long.mp3").read_bytes()
    assert handler.ranges, "the rest was fetched with a range request"
    assert open_store(str(lib)).count() == 1


def _feed(root: Path, base: str, items: list[tuple[str, str, str, str]]) -> None:
    entries = "".join(
        f"<item><title>{t}</title><guid>{g}</guid><pubDate>{formatdate(1.7e9 + i * 86400, usegmt=True)}</pubDate>"
        f"<description>{t} episode</description><enclosure url='{base}/{f}' type='{ty}' length='1'/></item>"
        for i, (g, t, f, ty) in enumerate(items)
    )
    head = f"<?xml version='1.0'?><rss version='2.0'><channel><title>Test Show</title><link>{base}</link>"
    (root / "feed.xml").write_text(f"{head}<description>d</description>{entries}</channel></rss>")


def test_feed_with_broken_and_non_audio_enclosures(site, tmp_path: Path) -> None:
    base, root, _ = site
    _mp3(root / "e1.mp3")
    (root / "cover.txt").write_text("an image, say")
    _feed(root, base, [("g1", "First", "e1.mp3", "audio/mpeg"), ("g2", "Broken", "missing.mp3", "audio/mpeg"),
                       ("g3", "Notes", "cover.txt", "text/plain")])  # fmt: skip
    lib = tmp_path / "lib"
    res = run_cli("feed", "add", f"{base}/feed.xml", "-l", str(lib))
    assert res.returncode == 0, res.stderr
    assert "1 new episodes, 1 failed, 1 skipped" in res.stdout
    assert "404" in res.stderr and "not audio or video" in res.stderr
    row = next(open_store(str(lib)).scan())
    assert row["title"] == "First" and row["show"] == "Test Show" and row["guid"] == "g1"
    listed = json.loads(run_cli("feed", "list", "-l", str(lib), "--json").stdout)
    assert listed[0]["episodes"] == 1 and listed[0]["failed"] == 1
    _mp3(root / "e4.mp3", synth("chirp", 5.0))
    _feed(root, base, [("g1", "First", "e1.mp3", "audio/mpeg"), ("g4", "Newest", "e4.mp3", "audio/mpeg")])
    upd = run_cli("feed", "update", "--all", "-l", str(lib))
    assert upd.returncode == 0 and "1 new episodes" in upd.stdout  # g1 is not fetched again
    assert open_store(str(lib)).count() == 2
    bad = run_cli("feed", "add", f"{base}/nope.xml", "-l", str(lib))
    assert bad.returncode == 2 and "404" in bad.stderr


def test_latest_and_disk_budget(site, tmp_path: Path) -> None:
    base, root, _ = site
    for i in range(3):
        _mp3(root / f"e{i}.mp3", synth("tonal", 4.0, seed=i))
    _feed(root, base, [(f"g{i}", f"Ep {i}", f"e{i}.mp3", "audio/mpeg") for i in range(3)])
    lib = tmp_path / "lib"
    res = run_cli("feed", "add", f"{base}/feed.xml", "--latest", "2", "-l", str(lib))
    assert res.returncode == 0 and "2 new episodes" in res.stdout
    assert sorted(r["title"] for r in open_store(str(lib)).scan()) == ["Ep 1", "Ep 2"]  # the newest two
    full = run_cli("add", f"{base}/e0.mp3", "-l", str(lib), "--max-disk-mb", "0")
    assert "disk budget reached" in full.stderr


def test_feed_of_spoken_episodes_end_to_end(site, tmp_path: Path) -> None:
    base, root, _ = site
    texts = {"garden-1": GARDEN_1, "space-1": SPACE_1, "garden-2": GARDEN_2, "space-2": SPACE_2}
    for name, text in texts.items():
        wav = speak(root / f"{name}.wav", text)
        subprocess.run([FFMPEG, "-loglevel", "error", "-y", "-i", str(wav), str(root / f"{name}.mp3")], check=True)
    _feed(root, base, [(n, n.replace("-", " episode "), f"{n}.mp3", "audio/mpeg") for n in texts])
    lib = tmp_path / "lib"
    res = run_cli("feed", "add", f"{base}/feed.xml", "-l", str(lib))
    assert res.returncode == 0 and "4 new episodes" in res.stdout, res.stderr
    store = open_store(str(lib))
    rows = {r["guid"]: r for r in store.scan()}
    assert all(r["words_source"] == "transcript" for r in rows.values())
    for name, other in (("garden-1", "garden-2"), ("space-1", "space-2")):
        sim = run_cli("similar", rows[name]["id"], "--view", "words", "-l", str(lib), "--json")
        assert json.loads(sim.stdout)["results"][0]["id"] == rows[other]["id"]


def test_add_urls_and_feeds_through_the_api(site, tmp_path: Path) -> None:
    import httpx
    from conftest import serve_library, wait_for_job

    base, root, _ = site
    _mp3(root / "song.mp3")
    _mp3(root / "e1.mp3", synth("chirp", 5.0))
    _feed(root, base, [("g1", "First", "e1.mp3", "audio/mpeg")])
    lib = tmp_path / "lib"
    open_store(str(lib)).close()
    proc, api = serve_library(lib, tmp_path)

    def wait(job: dict) -> dict:
        return wait_for_job(api, job["id"])

    try:
        assert httpx.post(f"{api}/api/add", json={"urls": ["file:///etc/passwd"]}).status_code == 400
        assert httpx.post(f"{api}/api/add", json={"nope": 1}).status_code == 400
        job = httpx.post(f"{api}/api/add", json={"urls": [f"{base}/song.mp3", f"{base}/gone.mp3"]}).json()
        assert job["kind"] == "add"
        done = wait(job)
        assert done["state"] == "done" and done["report"]["added"] == 1
        assert len(done["messages"]) == 1 and "404" in done["messages"][0]
        feed = wait(httpx.post(f"{api}/api/feeds", json={"url": f"{base}/feed.xml", "latest": 5}).json())
        assert feed["state"] == "done" and feed["report"]["added"] == 1
        feeds = httpx.get(f"{api}/api/feeds").json()
        assert feeds[0]["title"] == "Test Show" and feeds[0]["episodes"] == 1
        assert httpx.get(f"{api}/api/stats").json()["tracks"] == 2
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_full_media_folder_stops_the_downloads_and_a_rerun_finishes_them(site, tmp_path: Path) -> None:
    from mounts import grow, small_disk

    base, root, _ = site
    for i in range(2):
        _mp3(root / f"long{i}.mp3", synth("tonal", 30.0, seed=i))
    urls = [f"{base}/long{i}.mp3" for i in range(2)]
    lib = tmp_path / "lib"
    with small_disk(tmp_path / "disk", "200k") as disk:
        # One download at a time: which of two parallel downloads meets the full disk first is a race.
        res = run_cli("add", *urls, "-l", str(lib), "--media", str(disk / "media"), "-j", "1", "--concurrency", "1")
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
        assert "disk full" in res.stderr and "run the same command again" in " ".join(res.stderr.split())
        assert open_store(str(lib)).count() == 0  # nothing half-downloaded was indexed
        grow(disk, "16m")
        again = run_cli("add", *urls, "-l", str(lib), "--media", str(disk / "media"), "-j", "1", "--concurrency", "1")
        assert again.returncode == 0, again.stderr
        kept = sorted(p.name for p in (disk / "media").iterdir() if p.suffix == ".mp3")
        assert len(kept) == 2 and open_store(str(lib)).count() == 2, (again.stdout[-1500:], again.stderr[-800:])
        for name in kept:
            assert (disk / "media" / name).read_bytes() in {(root / f"long{i}.mp3").read_bytes() for i in range(2)}
