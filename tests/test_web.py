"""The web app in Debian's chromium (headless, driven by Playwright): search, play, upload, hum, map.

Screenshots of the main pages go to ``test-artifacts/`` (kept by CI as artefacts).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import serve_library

from tonearm.eval.hum import HumStyle, hum
from tonearm.eval.render import INSTRUMENTS, Voice, have_renderer, render
from tonearm.eval.symbolic import select_tunes

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (make system-deps)"),
    pytest.mark.skipif(not have_renderer(), reason="fluidsynth / GM soundfonts not installed"),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    from tonearm.library.indexer import Indexer
    from tonearm.store import open_store

    root = tmp_path_factory.mktemp("web")
    media = root / "media"
    media.mkdir()
    tunes = select_tunes("german_folk", 3, seed=3) + select_tunes("reel", 3, seed=3)
    for i, t in enumerate(tunes):
        inst = ("flute", "piano", "violin")[i % 3]
        y = render([Voice(t.melody, INSTRUMENTS[inst])], 110, loop_to=20, max_seconds=20)
        path = media / f"tune{i}.flac"
        sf.write(str(path), y, 22050)
        (media / f"tune{i}.json").write_text(f'{{"title": "Tune {i}", "genre": "{inst}"}}')
    (media / "tune2.lrc").write_text(
        "[00:00.00]Out on the green hills\n[00:04.00]the shepherd sings of the sea\n"
        "[00:09.00]and the wind brings the song home\n"
    )
    # The "microphone": someone humming tune 1 (chromium plays this file as the fake capture device).
    style = HumStyle(transpose=-5, tempo=0.9, intonation_sd=0.15, drift_sd=0.1, vibrato_hz=5.5,
                     vibrato_depth=0.2, timing_jitter=0.08, vowel="u", snr_db=20)  # fmt: skip
    mic = root / "mic.wav"
    y = hum(list(tunes[1].melody[2:18]), 110, style, np.random.default_rng(2), sr=48000)
    sf.write(str(mic), np.concatenate([y, np.zeros(48000, np.float32)]), 48000, subtype="PCM_16")
    lib = root / "lib"
    Indexer(open_store(str(lib))).run([str(media)], workers=2)
    proc, base = serve_library(lib, media)
    yield base, media, mic
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


def _launch(playwright, mic: Path):
    """Debian's chromium, headless, offline, with ``mic`` as the microphone."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--autoplay-policy=no-user-gesture-required", "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={mic}",
        ],
    )  # fmt: skip


@pytest.fixture(scope="module")
def browser(playwright, site):
    b = _launch(playwright, site[2])
    yield b
    b.close()


def _open(browser, base: str):
    """A fresh context on the app's start page: (context, page, the page's script errors)."""
    context = browser.new_context(viewport={"width": 1100, "height": 800}, permissions=["microphone"])
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(base + "/")
    pg.wait_for_function("document.querySelector('#stats').textContent.includes('tracks')")
    return context, pg, errors


@pytest.fixture()
def page(browser, site):
    context, pg, errors = _open(browser, site[0])
    yield pg
    assert errors == [], errors
    context.close()


def _shot(pg, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_search_then_play_and_track_page(page) -> None:
    page.fill("#q", "shepherd singing about the sea")
    page.select_option("#mode", "words")
    page.keyboard.press("Enter")
    page.wait_for_selector("#results li")
    assert page.inner_text("#results li .title") == "Tune 2"
    assert "shepherd" in page.inner_text("#results li .why")
    _shot(page, "search")
    page.click("#results li .play")
    page.wait_for_function(
        "!document.querySelector('#player').paused && document.querySelector('#player').readyState >= 2"
    )
    assert page.eval_on_selector("#player", "p => p.currentSrc").endswith("/audio")
    page.click("#results li .title")
    page.wait_for_selector("#view-track h2")
    assert page.inner_text("#view-track h2") == "Tune 2" and "Lyrics" in page.inner_text("#view-track")
    # untagged: the links name what the catalogue calls its artist and album (not the words "artist", "album")
    assert page.inner_text("#view-track .page-head .meta") == "Unknown artist · media"
    # time-synced lyrics (tune2.lrc): a line plays from its time, and the line being heard is marked
    lines = page.locator("#view-track ol.lyrics li")
    assert lines.all_inner_texts()[1] == "the shepherd sings of the sea"
    lines.nth(1).click()
    page.wait_for_function("document.querySelector('#view-track ol.lyrics li.now')?.dataset.at === '4'")
    assert page.evaluate("document.querySelector('#player').currentTime") >= 4.0
    page.wait_for_function("document.querySelector('#view-track ol.lyrics li.now')?.dataset.at === '9'", timeout=20000)
    assert page.locator("#view-track ol.lyrics li.now").count() == 1
    _shot(page, "track")
    page.click("#t-more")
    page.wait_for_function("document.querySelector('#explain').textContent.includes('sound like Tune 2')")
    assert page.locator("#results li").count() == 5
    # searches live in the address: back returns to them, a reload or a shared link rebuilds them
    assert "#/search?like=" in page.url
    page.go_back()
    page.wait_for_selector("#view-track h2", state="visible")
    page.go_back()
    page.wait_for_function("document.querySelector('#explain').textContent.startsWith('words search: shepherd')")
    assert page.inner_text("#results li .title") == "Tune 2"
    page.reload()
    page.wait_for_function("document.querySelector('#explain').textContent.startsWith('words search: shepherd')")
    assert (page.input_value("#q"), page.input_value("#mode")) == ("shepherd singing about the sea", "words")
    assert page.inner_text("#results li .title") == "Tune 2"
    page.go_forward()
    page.wait_for_selector("#view-track h2", state="visible")
    page.go_forward()
    page.wait_for_function("document.querySelector('#explain').textContent.includes('sound like Tune 2')")


def test_upload_a_file_for_similar_tracks(page, site) -> None:
    _, media, _ = site
    page.set_input_files("#file", str(media / "tune4.flac"))
    page.wait_for_function("document.querySelector('#explain').textContent.includes('sound like tune4.flac')")
    page.wait_for_selector("#results li")
    titles = page.locator("#results li .title").all_inner_texts()
    assert "Tune 4" not in titles and len(titles) == 5  # the same bytes never come back


def test_hum_search_from_the_microphone(page) -> None:
    page.click("#hum")
    page.wait_for_function("document.querySelector('#hum').getAttribute('aria-pressed') === 'true'")
    page.wait_for_timeout(7000)
    page.click("#hum")  # stop and search
    page.wait_for_function("document.querySelector('#explain').textContent.includes('tune you hummed')", timeout=60000)
    page.wait_for_selector("#results li")
    assert page.inner_text("#results li .title") == "Tune 1", page.inner_text("#results")
    _shot(page, "hum")


# The map point farthest from any other on screen, in page coordinates (a click plays the nearest point, and two
# close ones could swap under rounding), read just before each click.
MAP_LONELIEST = """() => { const c = document.querySelector('#map'); const r = c.getBoundingClientRect();
                      const at = state.map.points.map((p) => [p, ...toScreen(p, c)]);
                      let best = null, room = -1;
                      for (const [p, x, y] of at) {
                        const others = at.filter((o) => o[0] !== p);
                        const gap = Math.min(...others.map((o) => (o[1] - x) ** 2 + (o[2] - y) ** 2));
                        if (gap > room) { room = gap; best = {id: p.id, x: r.left + x * r.width / c.width,
                                                              y: r.top + y * r.height / c.height}; }
                      }
                      return best; }"""
# Resolves once the map canvas has held still for a few frames (the legend and covers may still shift it).
MAP_STILL = """() => new Promise((done) => { const c = document.querySelector('#map'); let last = '', same = 0;
                const tick = () => { const r = c.getBoundingClientRect();
                                     const now = [r.left, r.top, r.width, r.height, c.width, c.height].join();
                                     same = now === last ? same + 1 : 0; last = now;
                                     if (same >= 5) done(true); else requestAnimationFrame(tick); };
                tick(); })"""


def test_map_click_plays_a_track(page) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.fill("#q", "flute")
    page.select_option("#mode", "tags")
    page.keyboard.press("Enter")
    page.wait_for_selector("#results li")
    page.click("a[href='#/map']")
    page.wait_for_function("state.map && state.map.points.length === 6")
    assert page.locator("#legend li").count() == 3
    _shot(page, "map")
    # The canvas must hold still before the point is read (a busy machine may still shift it), and a click that
    # played nothing is retried.
    for attempt in range(3):
        page.evaluate(MAP_STILL)
        target = page.evaluate(MAP_LONELIEST)
        page.mouse.click(target["x"], target["y"])
        try:
            page.wait_for_function(f"document.querySelector('#player').dataset.track === '{target['id']}'",
                                   timeout=10_000)  # fmt: skip
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    page.focus("#map")
    page.keyboard.press("+")
    assert page.evaluate("state.view.scale") > 1


def test_the_map_on_a_phone_taps_and_pinches(browser, site) -> None:
    """At a phone's width the 900-px canvas is shown at 40%: a finger's tap still reaches a dot, two fingers zoom."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(site[0] + "/#/map")
    pg.wait_for_function("state.map && state.map.points.length === 6")
    pg.evaluate(MAP_STILL)
    target = pg.evaluate(MAP_LONELIEST)
    pg.touchscreen.tap(target["x"] + 7, target["y"] + 7)  # a fingertip's miss: 10 CSS px, 25 canvas px off
    pg.wait_for_function(f"document.querySelector('#player').dataset.track === '{target['id']}'")
    before = pg.evaluate("({...state.view})")
    pinch = """([x, y]) => { const c = document.querySelector('#map');
                 const fire = (type, id, dx) => c.dispatchEvent(new PointerEvent(type,
                   {pointerId: id, pointerType: 'touch', clientX: x + dx, clientY: y, bubbles: true}));
                 fire('pointerdown', 1, -20); fire('pointerdown', 2, 20);
                 for (const s of [30, 45, 60]) { fire('pointermove', 1, -s); fire('pointermove', 2, s); }
                 fire('pointerup', 1, -60); fire('pointerup', 2, 60); }"""
    pg.evaluate(pinch, [target["x"], target["y"]])
    after = pg.evaluate("({...state.view})")
    assert after["scale"] == pytest.approx(before["scale"] * 3, rel=1e-6)  # fingers 40 -> 120 px apart
    moved = pg.evaluate(MAP_LONELIEST)  # the dot under the fingers stayed under them
    assert (moved["x"], moved["y"]) == (pytest.approx(target["x"], abs=1), pytest.approx(target["y"], abs=1))
    assert pg.evaluate("document.querySelector('#player').dataset.track") == target["id"]  # a pinch plays nothing
    assert errors == [], errors
    context.close()


def test_add_url_form_shows_job_progress(page, site) -> None:
    # Runs last: it adds a track. The URL is the server's own audio stream of a track (a direct media link).
    base, _, _ = site
    import httpx

    tid = httpx.get(f"{base}/api/tracks", params={"where": "title = 'Tune 5'"}).json()["tracks"][0]["id"]
    page.click("#add-box summary")
    page.fill("#add-urls", f"{base}/api/tracks/{tid}/audio")
    page.click("#add-form button")
    page.wait_for_function("document.querySelector('#job-status').textContent.includes('add job done')", timeout=90000)
    assert "1 added" in page.inner_text("#job-status")
    _shot(page, "add-url")
    assert httpx.get(f"{base}/api/stats").json()["tracks"] == 7


def test_radio_and_path_from_the_track_page(page, site) -> None:
    base, _, _ = site
    import httpx

    ids = {t["title"]: t["id"] for t in httpx.get(f"{base}/api/tracks").json()["tracks"]}
    page.goto(f"{base}/#/track/{ids['Tune 0']}")
    page.wait_for_selector("#t-radio")
    page.click("#t-path-from")
    page.click("#t-radio")  # the radio goes to the queue and plays: the seed first, then tracks that follow it
    page.wait_for_function("queue.items.length > 1 && !document.querySelector('#player').paused")
    queued = page.evaluate("queue.items.map(e => e.title)")
    assert queued[0] == "Tune 0" and "Tune 0" not in queued[1:]
    page.goto(f"{base}/#/track/{ids['Tune 3']}")
    page.wait_for_selector("#t-path-to:not([hidden])")
    page.click("#t-path-to")
    page.wait_for_function("document.querySelector('#explain').textContent.includes('Path from Tune 0 to Tune 3')")
    assert page.locator("#results li").count() >= 1


@pytest.fixture(scope="module")
def room_browser(playwright, site, tmp_path_factory):
    """A second browser whose microphone hears 12 s of tune 3 (from 6 s) played through a small room: noise and echo."""
    _, media, _ = site
    y, sr = sf.read(str(media / "tune3.flac"), dtype="float32")
    clip = y[6 * sr : 18 * sr]
    echo = np.zeros_like(clip)
    echo[int(0.07 * sr) :] = 0.4 * clip[: -int(0.07 * sr)]
    noisy = clip + echo + 0.02 * np.random.default_rng(4).standard_normal(clip.size).astype(np.float32)
    from tonearm.audio.decode import resample

    mic = tmp_path_factory.mktemp("room") / "room.wav"
    sf.write(str(mic), resample(noisy, sr, 48000), 48000, subtype="PCM_16")
    b = _launch(playwright, mic)
    yield b
    b.close()


def test_whats_playing_identifies_the_room_recording_and_plays_from_there(room_browser, site) -> None:
    context, page, errors = _open(room_browser, site[0])
    page.click("#listen")
    page.wait_for_function("document.querySelector('#listen').getAttribute('aria-pressed') === 'true'")
    # It stops by itself after ~10 s and sends the recording.
    page.wait_for_selector("#results li.identified", timeout=60000)
    assert page.inner_text("#explain") == "What's playing:"
    first = page.locator("#results li.identified").first
    assert first.locator(".title").inner_text() == "Tune 3"
    m, s = first.locator(".offset").inner_text().split(":")
    at = 60 * int(m) + int(s)
    assert 5 <= at <= 18  # the fake microphone loops the 12-s excerpt that starts 6 s into the track
    _shot(page, "whats-playing")
    first.locator(".title").click()  # the track page marks where the clip was found on its loudness strip
    page.wait_for_function("(document.querySelector('#strip-caption')?.textContent || '').includes('clip matched at')")
    assert 5 <= page.evaluate("state.strip.match.from") <= 18
    page.go_back()
    page.wait_for_selector("#results li.identified")
    first = page.locator("#results li.identified").first
    first.locator(".play").click()
    page.wait_for_function("!document.querySelector('#player').paused")
    page.wait_for_function(f"document.querySelector('#player').currentTime >= {at}")
    assert page.eval_on_selector("#player", "p => p.currentSrc").endswith("/audio")
    assert errors == [], errors
    context.close()
