"""Subsonic API latency: p50/p95 of Instant Mix, search, album lists and cover art on a real server.

Two libraries: the demo library (``tonearm demo``, ~96 rendered tunes; built if missing) and a
synthetic one of ``--rows`` tracks (default 10,000: 1,000 albums, 200 artists, 20 genres, the
shipped sound view's 889 dimensions in clustered random vectors; every row points at one of 24
real short files with embedded covers, so streams and covers are real work). For each, a
``tonearm serve --subsonic`` process is started and each endpoint is called ``--n`` times one at a
time (after warm-up calls), timing the whole HTTP request on loopback:

* ``getSimilarSongs2`` (count 50) of a random song: tonearm radio;
* ``search3`` with a random two-word query (and once per round an empty query, page of 50);
* ``getAlbumList2`` of a random type (size 50);
* ``getCoverArt`` of a random album at size 300: cold (first time) and warm (cached).

    python bench/bench_subsonic.py [--out bench-out] [--rows 10000] [--n 100]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SECRET = "bench-secret"
AUTH = {"u": "tonearm", "p": SECRET, "v": "1.16.1", "c": "bench", "f": "json"}
TYPES = ("random", "newest", "alphabeticalByName", "alphabeticalByArtist", "frequent", "recent", "starred", "byGenre")


def _files(folder: Path, n: int = 24) -> list[str]:
    """Short real files with embedded covers (FLAC), shared by every synthetic row."""
    import soundfile as sf
    from mutagen.flac import FLAC, Picture
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        path = folder / f"f{i:02d}.flac"
        if not path.exists():
            t = np.arange(22050 * 3) / 22050
            sf.write(str(path), (0.2 * np.sin(2 * np.pi * (200 + 20 * i) * t)).astype(np.float32), 22050)
            buf = io.BytesIO()
            Image.new("RGB", (600, 600), (10 * i, 100, 200)).save(buf, "JPEG")
            f = FLAC(str(path))
            pic = Picture()
            pic.type, pic.mime, pic.data = 3, "image/jpeg", buf.getvalue()
            f.add_picture(pic)
            f.save()
        out.append(str(path))
    return out


def synthetic_library(root: Path, rows: int) -> Path:
    from tonearm.store import open_store
    from tonearm.store.base import raw_column, vector_column

    lib = root / f"synthetic-{rows}"
    if (lib / "tracks.lance").exists():
        return lib
    files = _files(root / "files")
    store = open_store(str(lib))
    dim = 889
    store.ensure_view("sound", dim)
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((200, dim)).astype(np.float32)
    batch = []
    for i in range(rows):
        artist, album = i % 200, i % 1000
        v = centres[artist] + 0.8 * rng.standard_normal(dim).astype(np.float32)
        v /= np.linalg.norm(v)
        word = ("blue", "red", "night", "road", "river", "sun", "rain", "home")[int(rng.integers(8))]
        batch.append(
            {
                "id": f"{i:016x}",
                "path": files[i % len(files)],
                "title": f"Song {i} {word}",
                "artist": f"Artist {artist:03d}",
                "albumartist": f"Artist {artist:03d}",
                "album": f"Album {album:04d}",
                "genre": f"g{artist % 20:02d}",
                "year": 1960 + artist % 60,
                "track_no": i // 1000 + 1,
                "duration": 180.0 + i % 120,
                "size": 4_000_000 + i,
                "added_at": 1.7e9 + i,
                "content_hash": f"h{i}",
                vector_column("sound"): v,
                raw_column("sound"): v,
            }
        )
        if len(batch) == 2000:
            store.upsert(batch)
            batch = []
    store.upsert(batch)
    store.set_meta("views", {"sound": "fused"})
    store.optimize()
    return lib


def demo_library(root: Path) -> Path:
    demo = root / "demo"
    if not (demo / "library" / "tracks.lance").exists():
        subprocess.run([sys.executable, "-m", "tonearm.cli", "demo", "--dir", str(demo)], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
    return demo / "library"


def _query(rng: random.Random, words: list[str]) -> str:
    """Two title words, or (one time in ten) the empty query that lists everything."""
    return " ".join(rng.sample(words, 2)) if rng.random() > 0.1 else ""


def measure(lib: Path, n: int) -> dict:
    import httpx
    from serving import tonearm_server

    env = dict(os.environ, TONEARM_SUBSONIC_SECRET=SECRET)
    ping = "/rest/ping?" + "&".join(f"{k}={v}" for k, v in AUTH.items())
    with tonearm_server(str(lib), "--subsonic", env=env, ready=ping) as root:
        base = f"{root}/rest"
        client = httpx.Client(timeout=120)
        rng = random.Random(0)
        found: dict[str, list] = {"song": [], "album": []}
        for key in found:  # page through everything, as Feishin does with an empty search3
            while True:
                count = {"songCount" if key == "song" else "albumCount": 1000, "artistCount": 0,
                         "albumCount" if key == "song" else "songCount": 0}  # fmt: skip
                offset = {f"{key}Offset": len(found[key])}
                page = client.get(f"{base}/search3", params=dict(AUTH, query="", **count, **offset)).json()
                items = page["subsonic-response"]["searchResult3"].get(key, [])
                found[key] += items
                if len(items) < 1000:
                    break
        songs = [s["id"] for s in found["song"]]
        albums = [a["id"] for a in found["album"]]
        words = sorted({w for s in found["song"] for w in s["title"].lower().split()})
        calls = {
            "getSimilarSongs2 (count 50)": lambda: ("getSimilarSongs2", {"id": rng.choice(songs), "count": 50}),
            "search3": lambda: ("search3", {"query": _query(rng, words), "songCount": 50}),
            "getAlbumList2 (size 50)": lambda: (
                "getAlbumList2",
                {"type": rng.choice(TYPES), "size": 50, "genre": "g03"},
            ),
            # Cold: an (album, size) pair never asked before, so the picture is found, decoded and resized.
            "getCoverArt (size ~300, cold)": lambda: ("getCoverArt", next(cold)),
        }
        cold = ({"id": a, "size": 300 + k} for k in range(1000) for a in rng.sample(albums, len(albums)))
        out: dict = {"tracks": len(songs), "albums": len(albums)}
        warm_covers = albums[:20]
        calls["getCoverArt (size 300, warm)"] = lambda: ("getCoverArt", {"id": rng.choice(warm_covers), "size": 300})
        for cover in warm_covers:
            client.get(f"{base}/getCoverArt", params=dict(AUTH, id=cover, size=300))
        for label, make in calls.items():
            times = []
            for i in range(n + 5):
                name, params = make()
                t = time.perf_counter()
                r = client.get(f"{base}/{name}", params=dict(AUTH, **params))
                dt = time.perf_counter() - t
                assert r.status_code == 200
                assert name == "getCoverArt" or r.json()["subsonic-response"]["status"] == "ok"
                if i >= 5:
                    times.append(dt * 1000)
            out[label] = {"p50_ms": round(float(np.percentile(times, 50)), 1),
                          "p95_ms": round(float(np.percentile(times, 95)), 1)}  # fmt: skip
        client.close()
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench-out")
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--skip-demo", action="store_true")
    args = ap.parse_args()
    root = Path(args.out).resolve()
    results = {}
    if not args.skip_demo:
        results["demo"] = measure(demo_library(root), args.n)
        print(json.dumps(results["demo"], indent=2), flush=True)
    t0 = time.perf_counter()
    lib = synthetic_library(root, args.rows)
    results[f"synthetic_{args.rows}"] = dict(measure(lib, args.n), build_s=round(time.perf_counter() - t0, 1))
    print(json.dumps(results, indent=2))
    (root / "bench_subsonic.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
