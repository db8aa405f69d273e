"""How long the web app's home page takes to show its first screen on a big library, in Debian's chromium.

A synthetic library of ``--rows`` tracks (default 20,000: 1,000 albums, 200 artists, 20 genres;
every row points at one of 24 real short FLAC files with embedded 600 px covers, so cover requests
do real decoding and resizing) is served by a real ``tonearm serve``. A headless chromium window of
1400x900 opens ``/`` and the clock stops when the album grids are filled and every cover inside
the window has been decoded. Measured:

* **cold**: a fresh server process (the catalogue is built on the first request) and an empty cover
  cache (every cover in view is decoded and resized);
* **warm**: the same server again, ``--n`` times, in new browser contexts (no browser cache);
* the same two on a library of ``--baseline-rows`` tracks in the same run, so the figures read as
  a ratio (how the first screen grows with the library) as well as in milliseconds;
* the JSON endpoints behind the page (``/api/home``, ``/api/albums``) alone, p50 over ``--n`` calls.

    python bench/bench_home.py [--out bench-out] [--rows 20000] [--baseline-rows 200] [--n 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_subsonic import synthetic_library  # the same synthetic library as the Subsonic bench
from serving import tonearm_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FIRST_SCREEN = """() => {
  const cards = document.querySelectorAll('#home-recent li.card, #home-albums li.card');
  if (cards.length < 12) return false;
  const inView = [...document.querySelectorAll('#home-recent img, #home-albums img')]
    .filter((i) => i.getBoundingClientRect().top < innerHeight);
  return inView.length > 0 && inView.every((i) => i.complete && i.naturalWidth > 0);
}"""


def first_screen_ms(browser, base: str) -> float:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    t0 = time.perf_counter()
    page.goto(base + "/")
    page.wait_for_function(FIRST_SCREEN, timeout=120_000)
    ms = 1000 * (time.perf_counter() - t0)
    context.close()
    return ms


def endpoint_ms(base: str, path: str, n: int) -> float:
    times = []
    with httpx.Client(timeout=120) as client:
        for _ in range(n):
            t0 = time.perf_counter()
            client.get(base + path).raise_for_status()
            times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def measure(lib: Path, browser, n: int) -> dict:
    shutil.rmtree(lib / ".covers", ignore_errors=True)
    with tonearm_server(str(lib)) as base:
        cold = first_screen_ms(browser, base)
        warm = [first_screen_ms(browser, base) for _ in range(n)]
        return {
            "cold_ms": round(cold, 1),
            "warm_p50_ms": round(statistics.median(warm), 1),
            "warm_max_ms": round(max(warm), 1),
            "api_home_p50_ms": round(endpoint_ms(base, "/api/home", n), 1),
            "api_albums_p50_ms": round(endpoint_ms(base, "/api/albums?limit=48", n), 1),
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="bench-out")
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--baseline-rows", type=int, default=200)
    ap.add_argument("--n", type=int, default=10)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    root = Path(args.out) / "home"
    libs = {rows: synthetic_library(root, rows) for rows in (args.baseline_rows, args.rows)}
    report: dict = {"cpu_count": os.cpu_count(), "rows": args.rows, "baseline_rows": args.baseline_rows}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-background-networking",
                                          "--disable-component-update", "--disable-sync"])  # fmt: skip
        for rows, lib in libs.items():
            report[str(rows)] = measure(lib, browser, args.n)
            print(rows, report[str(rows)], flush=True)
        browser.close()
    big, small = report[str(args.rows)], report[str(args.baseline_rows)]
    report["ratio_cold"] = round(big["cold_ms"] / small["cold_ms"], 2)
    report["ratio_warm"] = round(big["warm_p50_ms"] / small["warm_p50_ms"], 2)
    out = Path(args.out) / "bench_home.json"
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
