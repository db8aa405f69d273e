"""A household's players on one server while a big index run adds tracks: a bounded load test on loopback.

A real ``tonearm serve --subsonic`` on a library of ``--base`` tracks; ``--clients`` concurrent asyncio
clients (httpx) for ``--seconds`` after a ``--warmup``, each looping over a weighted mix: sound
similarity, text search, hum (an uploaded sung-like tune), identify (an uploaded excerpt), the home
page's JSON, Subsonic browsing (album lists, artists, an album, search3) and Subsonic streaming (the
whole file read). Meanwhile ``tonearm index`` adds ``--add`` new tracks to the same library.

Reported: requests and failures per endpoint (any non-2xx, a Subsonic ``failed`` status, or a
transport error counts), p50/p95 per endpoint, the server's resident memory after the warm-up and
at the end (growth in %), and whether and when the index run finished.

    python bench/bench_load.py [--base 60] [--add 500] [--clients 50] [--seconds 60] [--warmup 10]
                               [--out bench/results/load.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procmem import status_mib
from serving import tonearm_server_process

SR = 22050
AUTH = {"u": "tonearm", "p": "load-secret", "v": "1.16.1", "c": "bench", "f": "json"}
MIX = {"similar": 20, "search": 12, "hum": 4, "identify": 4, "home": 8, "subsonic_browse": 32, "subsonic_stream": 20}
WORDS = ("river", "night", "dance", "storm", "gold", "echo", "blue", "fire")


def _tune(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    notes = 220 * 2 ** (rng.integers(0, 12, int(seconds * 3)) / 12)
    f = np.repeat(notes, int(SR / 3))[: int(seconds * SR)]
    phase = 2 * np.pi * np.cumsum(f) / SR
    y = 0.3 * np.sin(phase) + 0.1 * np.sin(2 * phase) + 0.02 * rng.standard_normal(f.size)
    return y.astype(np.float32)


def make_music(folder: Path, n: int, seconds: float, seed: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        path = folder / f"{seed}-{i:04d}.flac"
        sf.write(str(path), _tune(seconds, seed * 10_000 + i), SR)
        import mutagen

        f = mutagen.File(str(path))
        f["title"] = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {i}"
        f["artist"] = f"Band {i % 12}"
        f["album"] = f"Album {i % 20}"
        f.save()
        out.append(path)
    return out


def _p(ms: list[float], q: float) -> float:
    return round(float(np.percentile(ms, q)), 1) if ms else 0.0


class Load:
    def __init__(self, base: str, ids: list[str], hum: bytes, clip: bytes, seed: int) -> None:
        self.base, self.ids, self.hum, self.clip = base, ids, hum, clip
        self.rng = random.Random(seed)
        self.times: dict[str, list[float]] = {k: [] for k in MIX}
        self.failures: dict[str, list[str]] = {k: [] for k in MIX}
        self.recording = False

    async def one(self, client: httpx.AsyncClient, kind: str) -> None:
        rng, tid = self.rng, self.rng.choice(self.ids)
        t0 = time.perf_counter()
        try:
            if kind == "similar":
                r = await client.get(f"/api/tracks/{tid}/similar", params={"k": 10})
            elif kind == "search":
                r = await client.get("/api/search", params={"q": rng.choice(WORDS), "k": 10})
            elif kind == "hum":
                r = await client.post("/api/hum", files={"file": ("hum.wav", self.hum)})
            elif kind == "identify":
                r = await client.post("/api/identify", files={"file": ("clip.wav", self.clip)})
            elif kind == "home":
                r = await client.get("/api/home")
            elif kind == "subsonic_browse":
                method, extra = rng.choice(
                    [
                        ("getAlbumList2", {"type": "newest", "size": 50}),
                        ("getArtists", {}),
                        ("search3", {"query": rng.choice(WORDS)}),
                        ("getRandomSongs", {}),
                    ]
                )
                r = await client.get(f"/rest/{method}", params={**AUTH, **extra})
            else:
                async with client.stream("GET", "/rest/stream", params={**AUTH, "id": tid}) as r:
                    async for _ in r.aiter_bytes():
                        pass
            ok = r.status_code < 300
            if ok and kind.startswith("subsonic") and kind != "subsonic_stream":
                ok = r.json()["subsonic-response"]["status"] == "ok"
            why = "" if ok else f"HTTP {r.status_code}: {r.text[:120]}"
        except Exception as exc:  # transport errors and timeouts are failures too
            ok, why = False, f"{type(exc).__name__}: {exc}"[:160]
        if self.recording:
            self.times[kind].append(1000 * (time.perf_counter() - t0))
            if not ok:
                self.failures[kind].append(why)

    async def client(self, until: float) -> None:
        kinds, weights = list(MIX), list(MIX.values())
        async with httpx.AsyncClient(base_url=self.base, timeout=180) as client:
            while time.monotonic() < until:
                await self.one(client, self.rng.choices(kinds, weights)[0])


async def _drive(load: Load, clients: int, warmup: float, seconds: float, pid: int) -> dict:
    start = time.monotonic()
    tasks = [asyncio.create_task(load.client(start + warmup + seconds)) for _ in range(clients)]
    await asyncio.sleep(warmup)
    load.recording = True
    rss_start, samples = status_mib("VmRSS", pid), []
    t_end = start + warmup + seconds
    while time.monotonic() < t_end:
        samples.append(status_mib("VmRSS", pid))
        await asyncio.sleep(1.0)
    await asyncio.gather(*tasks)
    load.recording = False
    rss_end = status_mib("VmRSS", pid)
    return {"rss_after_warmup_mib": round(rss_start, 1), "rss_end_mib": round(rss_end, 1),
            "rss_peak_mib": round(max([*samples, rss_end]), 1),
            "rss_growth_pct": round(100 * (rss_end - rss_start) / rss_start, 1)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=int, default=60)
    ap.add_argument("--add", type=int, default=500)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=10.0)
    ap.add_argument("--index-workers", type=int, default=1)
    ap.add_argument("--out", default="bench/results/load.json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tonearm-load-"))
    lib = work / "lib"
    base_files = make_music(work / "music" / "base", args.base, 8.0, seed=1)
    make_music(work / "music" / "incoming", args.add, 3.0, seed=2)
    env = dict(os.environ, TONEARM_SUBSONIC_SECRET=AUTH["p"])
    subprocess.run([sys.executable, "-m", "tonearm.cli", "index", str(work / "music" / "base"), "-l", str(lib),
                    "-j", "2"], check=True, env=env, capture_output=True)  # fmt: skip
    hum = work / "hum.wav"
    sf.write(str(hum), _tune(6.0, 10_003), SR)  # the tune of base track 3, sung plain
    clip = work / "clip.wav"
    y, _ = sf.read(str(base_files[5]))
    sf.write(str(clip), y[SR : SR * 7], SR)
    with tonearm_server_process(str(lib), str(work / "music"), "--subsonic", env=env) as (base, server):
        ids = [t["id"] for t in httpx.get(f"{base}/api/tracks", params={"limit": 1000}).json()["tracks"]]
        load = Load(base, ids, hum.read_bytes(), clip.read_bytes(), seed=0)
        t_index = time.monotonic()
        index = subprocess.Popen([sys.executable, "-m", "tonearm.cli", "index", str(work / "music" / "incoming"),
                                  "-l", str(lib), "-j", str(args.index_workers), "--json"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        memory = asyncio.run(_drive(load, args.clients, args.warmup, args.seconds, server.pid))
        during = index.poll() is None
        out, err = index.communicate()
        index_s = time.monotonic() - t_index
        total = httpx.get(f"{base}/api/tracks", params={"limit": 1}).json()["total"]
    report = json.loads(out) if index.returncode == 0 else {}
    result = {
        "clients": args.clients, "seconds": args.seconds, "warmup_s": args.warmup, "base_tracks": args.base,
        "cpus": os.cpu_count(),
        "requests": sum(len(v) for v in load.times.values()),
        "failed": sum(len(v) for v in load.failures.values()),
        "per_endpoint": {k: {"n": len(v), "failed": len(load.failures[k]), "p50_ms": _p(v, 50), "p95_ms": _p(v, 95)}
                         for k, v in load.times.items()},
        "failure_samples": {k: v[:3] for k, v in load.failures.items() if v},
        "memory": memory,
        "index_run": {"tracks_to_add": args.add, "added": report.get("added"), "exit_status": index.returncode,
                      "still_running_when_load_ended": during, "seconds": round(index_s, 1),
                      "library_tracks_after": total, "stderr_tail": err[-300:] if index.returncode else ""},
    }  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
