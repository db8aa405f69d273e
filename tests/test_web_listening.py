"""The web app as a place to listen, in Debian's chromium: home with covers, the queue, endless radio, likes, phones.

Runs on the tagged Subsonic library (``subsonic_fixture``: 16 albums of 3-second songs, some with
embedded covers), served with ``--subsonic`` so a like can be checked in ``getStarred2``. Every main
page is audited with axe-core (from the npm registry, ``tests/web``) at 1400 and 375 px, and
screenshots of each go to ``test-artifacts/listen-<page>-<width>.png``.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from pathlib import Path

import httpx
import pytest
from conftest import SUBSONIC_SECRET

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).resolve().parent / "web" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no Debian chromium (make test-deps)")


@pytest.fixture(scope="module")
def server(listening_server):
    return listening_server


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--autoplay-policy=no-user-gesture-required"],
        )  # fmt: skip
        yield b
        b.close()


@pytest.fixture()
def open_page(browser, server):
    """open_page(width=1400) -> a page on the app's home; script errors fail the test."""
    contexts = []
    errors: list[str] = []

    def make(width: int = 1400):
        context = browser.new_context(viewport={"width": width, "height": 900})
        contexts.append(context)
        pg = context.new_page()
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(server[0] + "/")
        pg.wait_for_selector("#home-albums li.card")
        return pg

    yield make
    for c in contexts:
        c.close()
    assert errors == [], errors


def _ids(base: str) -> dict:
    home = httpx.get(f"{base}/api/home", params={"recent": 100}).json()
    albums = {a["name"]: a for a in home["recent_albums"]}
    return {"albums": albums, "artists": {a["name"]: a["id"] for a in home["artists"]}}


def _subsonic(base: str, name: str, **params) -> dict:
    q = {"u": "tonearm", "p": SUBSONIC_SECRET, "v": "1.16.1", "c": "pytest", "f": "json", **params}
    return httpx.get(f"{base}/rest/{name}", params=q, timeout=60).json()["subsonic-response"]


def _shot(pg, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _queue(pg) -> list[str]:
    return pg.evaluate("queue.items.map(e => e.id)")


def _play_album(pg, album_id: str, slow: bool = False) -> None:
    """Open an album's page and play it; ``slow``: its 3-second songs at 1/16 speed, so none ends mid-test."""
    pg.evaluate(f"location.hash = '#/album/{album_id}'")
    pg.wait_for_selector("#view-album li.track")
    if slow:
        pg.evaluate("player.defaultPlaybackRate = 0.0625")
    pg.click("#al-play")


def test_home_shows_albums_with_their_covers_and_opens_them(open_page, server) -> None:
    base = server[0]
    pg = open_page()
    assert pg.locator("#home-albums li.card").count() == 16
    assert pg.locator("#home-artists li").count() == 8 and pg.locator("#home-genres li").count() == 4
    assert "48 tracks · 16 albums · 8 artists · 4 genres" in pg.inner_text("#home-counts")
    # covers load lazily: scroll through, then every album picture has been decoded
    pg.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    pg.wait_for_function("[...document.querySelectorAll('#home-albums img')].every(i => i.complete && i.naturalWidth)")
    albums = _ids(base)["albums"]
    embedded, none = albums["Artist A Album 1"], albums["Artist B Album 1"]
    real = httpx.get(base + embedded["cover"])
    drawn = httpx.get(base + none["cover"])
    assert real.headers["content-type"] == "image/jpeg" and drawn.headers["content-type"] == "image/png"
    card = pg.locator(f"#home-albums a[href='#/album/{embedded['id']}']")
    assert card.locator("img").get_attribute("src") == embedded["cover"]
    card.click()
    pg.wait_for_selector("#view-album li.track")
    assert pg.locator("#view-album li.track .title").all_inner_texts() == [f"Artist A Song 1.{i}" for i in (1, 2, 3)]
    pg.click("#view-album .meta a[href^='#/artist/']")
    pg.wait_for_selector("#view-artist .grid li.card")
    assert pg.locator("#view-artist .grid li.card").count() == 2


def test_queue_add_reorder_next_and_keyboard(open_page, server) -> None:
    albums = _ids(server[0])["albums"]
    pg = open_page()
    pg.evaluate(f"location.hash = '#/album/{albums['Artist B Album 1']['id']}'")
    pg.wait_for_selector("#view-album li.track")
    # the 3-second songs play 16 times slower: on a busy machine the first one ended before the clicks below
    # (CI: the queue moved on under the test); nothing here waits for a song's end
    pg.evaluate("player.defaultPlaybackRate = 0.0625")
    pg.click("#al-play")
    pg.wait_for_function("!document.querySelector('#player').paused")
    assert pg.evaluate("player.playbackRate") == 0.0625
    album_b = _queue(pg)
    assert len(album_b) == 3 and pg.evaluate("queue.pos") == 0
    pg.evaluate(f"location.hash = '#/album/{albums['Artist C Album 1']['id']}'")
    # album B's rows stay on the page until album C's arrive (CI once added B's first track here)
    pg.wait_for_function("document.querySelector('#view-album h2')?.textContent === 'Artist C Album 1'")
    pg.wait_for_selector("#view-album li.track .add")
    pg.locator("#view-album li.track .add").first.click()
    pg.locator("#view-album li.track .play-next").nth(1).click()  # plays right after the current track
    order = _queue(pg)
    assert len(order) == 5 and order[0] == album_b[0] and order[1] not in album_b and order[4] not in album_b
    pg.click("header nav a[href='#/queue']")
    pg.wait_for_selector("#queue-list li.current")
    assert pg.locator("#queue-list li").count() == 5
    pg.click("#queue-list li[data-index='1'] .down")  # the button moves it
    moved = _queue(pg)
    assert moved[2] == order[1] and moved[1] == order[2]
    pg.locator("#queue-list li[data-index='4']").drag_to(pg.locator("#queue-list li[data-index='1']"))  # so does a drag
    dragged = _queue(pg)
    assert dragged[1] == moved[4] and sorted(dragged) == sorted(order)
    assert pg.locator("#queue-list li .title").all_inner_texts()[1] == pg.evaluate("queue.items[1].title")
    pg.evaluate("document.activeElement.blur()")
    pg.keyboard.press("n")
    pg.wait_for_function(f"document.querySelector('#player').dataset.track === '{dragged[1]}'")
    pg.keyboard.press("p")
    pg.wait_for_function(f"document.querySelector('#player').dataset.track === '{dragged[0]}'")
    pg.wait_for_function("!document.querySelector('#player').paused")
    pg.keyboard.press(" ")
    pg.wait_for_function("document.querySelector('#player').paused")
    pg.keyboard.press(" ")
    pg.wait_for_function("!document.querySelector('#player').paused")
    pg.keyboard.press("/")
    assert pg.evaluate("document.activeElement.id") == "q"
    pg.click("header nav a[href='#/artists']")  # the music goes on while browsing
    pg.wait_for_selector("#artists-list li")
    assert pg.evaluate("!document.querySelector('#player').paused && queue.items.length") == 5
    _shot(pg, "listen-queue-1400")


def test_system_media_controls_show_the_track_and_drive_the_queue(open_page, server) -> None:
    albums = _ids(server[0])["albums"]
    album = albums["Artist A Album 1"]
    pg = open_page()
    pg.evaluate(f"location.hash = '#/album/{album['id']}'")
    pg.wait_for_selector("#view-album li.track")
    pg.evaluate("player.defaultPlaybackRate = 0.0625")  # nothing here waits for a song's end
    pg.click("#al-play")
    pg.wait_for_function("!document.querySelector('#player').paused")
    meta = pg.evaluate(
        "(({title, artist, album, artwork}) => ({title, artist, album, art: artwork.map(a => [a.src, a.sizes])}))"
        "(navigator.mediaSession.metadata)"
    )
    assert meta["title"] == "Artist A Song 1.1" and meta["artist"] == "Artist A" and meta["album"] == "Artist A Album 1"
    assert [size for _, size in meta["art"]] == ["96x96", "256x256", "512x512"]
    assert httpx.get(meta["art"][1][0]).headers["content-type"] == "image/jpeg"  # the album's embedded cover
    pg.wait_for_function("document.title === '▶ Artist A Song 1.1 — Artist A · tonearm'")
    assert pg.evaluate("navigator.mediaSession.playbackState") == "playing"
    pg.evaluate("mediaActions.nexttrack(); mediaActions.pause()")  # what media keys or the lock screen call
    pg.wait_for_function("navigator.mediaSession.metadata.title === 'Artist A Song 1.2' && queue.pos === 1")
    pg.wait_for_function("player.readyState >= 1")  # loaded, and held: a pause pressed while it loaded stands
    pg.wait_for_timeout(300)
    pg.wait_for_function("document.title === 'Artist A Song 1.2 — Artist A · tonearm'")
    assert pg.evaluate("navigator.mediaSession.playbackState") == "paused" and pg.evaluate("player.paused")
    pg.evaluate("mediaActions.play()")
    pg.wait_for_function("document.title.startsWith('▶ Artist A Song 1.2')")
    pg.evaluate("mediaActions.pause()")
    pg.wait_for_function("player.paused")
    pg.evaluate("mediaActions.seekto({seekTime: 1.5})")
    assert abs(pg.evaluate("player.currentTime") - 1.5) < 0.1
    pg.evaluate("mediaActions.previoustrack()")  # under 3 s in: the song before, as the bar's button does
    pg.wait_for_function("navigator.mediaSession.metadata.title === 'Artist A Song 1.1' && queue.pos === 0")


def test_level_plays_each_track_at_its_measured_gain(open_page, server) -> None:
    base = server[0]
    album = _ids(base)["albums"]["Artist B Album 1"]
    tracks = [t["id"] for t in httpx.get(f"{base}/api/albums/{album['id']}").json()["tracks"]]
    gains = [httpx.get(f"{base}/api/tracks/{t}/level").json()["gain_db"] for t in tracks[:2]]
    pg = open_page()
    pg.evaluate(f"location.hash = '#/album/{album['id']}'")
    pg.wait_for_selector("#view-album li.track")
    pg.evaluate("player.defaultPlaybackRate = 0.0625")
    pg.click("#level")
    assert pg.get_attribute("#level", "aria-pressed") == "true"
    pg.click("#al-play")
    pg.wait_for_function("!document.querySelector('#player').paused && level.node !== null")
    want = "(db) => Math.abs(level.node.gain.value - Math.pow(10, db / 20)) < 0.01"
    pg.wait_for_function(want, arg=gains[0])
    assert pg.evaluate("level.ctx.state") == "running"
    pg.click("#next")
    pg.wait_for_function(want, arg=gains[1])
    # the button says what it did to this track and from what (these files have no ReplayGain tags)
    pg.wait_for_function("document.querySelector('#level').title.includes('measured')")
    assert f"{gains[1]:+.1f} dB, measured" in pg.get_attribute("#level", "title")
    pg.click("#level")  # off: the file as it is
    pg.wait_for_function("level.node.gain.value === 1")
    assert pg.evaluate("localStorage.getItem('tonearm-level')") == "0"


def test_a_long_track_resumes_where_it_was_left_here_and_in_subsonic_players(open_page, server) -> None:
    base = server[0]
    album = _ids(base)["albums"]["Artist C Album 2"]
    first, second = (t["id"] for t in httpx.get(f"{base}/api/albums/{album['id']}").json()["tracks"][:2])
    pg = open_page()
    pg.evaluate("bookmarks.minSeconds = 1; bookmarks.every = 0.2")  # the fixture's songs last 3 s, not 10 min
    pg.evaluate(f"location.hash = '#/album/{album['id']}'")
    pg.wait_for_selector("#view-album li.track")
    pg.evaluate("player.defaultPlaybackRate = 0.0625")
    pg.click("#al-play")
    pg.wait_for_function("!document.querySelector('#player').paused && bookmarks.playing !== null")
    pg.evaluate("player.currentTime = 2.0")
    pg.wait_for_function("player.currentTime >= 2.0")
    pg.click("#playpause")  # a pause writes the bookmark at once
    pg.wait_for_function(f"bookmarks.marks['{first}'] && bookmarks.marks['{first}'].position >= 2.0")
    auth = {"u": "tonearm", "p": SUBSONIC_SECRET, "v": "1.16.1", "c": "pytest", "f": "json"}

    def subsonic_marks() -> dict:
        got = httpx.get(f"{base}/rest/getBookmarks", params=auth).json()["subsonic-response"]["bookmarks"]
        return {b["entry"]["id"]: b["position"] for b in got["bookmark"]}

    for _ in range(50):  # the PUT is in flight
        if first in subsonic_marks():
            break
        pg.wait_for_timeout(100)
    assert 2000 <= subsonic_marks()[first] < 2600  # a Subsonic player resumes at the same place
    pg.evaluate("location.hash = '#/'")  # the home page offers it first
    pg.wait_for_selector("#home-resume li.track")
    assert pg.locator("#home-resume li.track .title").first.inner_text() == pg.evaluate("queue.items[0].title")
    assert "left at 0:02 of 0:03" in pg.locator("#home-resume li.track .why").first.inner_text()
    pg.click("#next")
    pg.wait_for_function(f"document.querySelector('#player').dataset.track === '{second}'")
    pg.evaluate("playAt(0)")  # back to the first: it starts where it was left
    pg.wait_for_function(f"bookmarks.playing === '{first}' && player.currentTime >= 2.0")
    assert "resuming at 0:02" in pg.inner_text("#toast")
    pg.evaluate("player.playbackRate = 1")  # to its end: the bookmark is done with
    pg.wait_for_function(f"!bookmarks.marks['{first}']", timeout=20000)
    for _ in range(50):
        if first not in subsonic_marks():
            break
        pg.wait_for_timeout(100)
    assert first not in subsonic_marks()


def test_radio_keeps_extending_past_its_last_track(open_page, server) -> None:
    albums = _ids(server[0])["albums"]
    pg = open_page()
    track = httpx.get(server[0] + f"/api/albums/{albums['Artist A Album 1']['id']}").json()["tracks"][0]["id"]
    pg.evaluate("radio.batch = 2; player.defaultPlaybackRate = 4")  # short batches, 3-s songs played fast
    pg.evaluate(f"location.hash = '#/track/{track}'")
    pg.click("#t-radio")
    pg.wait_for_function("queue.items.length === 3 && queue.items[0].source === 'seed'")
    pg.wait_for_function("queue.pos >= 4 && queue.items.length >= 7", timeout=60000)  # past the first list
    assert not pg.evaluate("document.querySelector('#player').paused && document.querySelector('#player').ended")
    items = pg.evaluate("queue.items.map(e => [e.id, e.artist])")
    assert len({i for i, _ in items}) == len(items)  # no repeats
    artists = [a for _, a in items]
    assert all(a != b for a, b in itertools.pairwise(artists)), artists  # spacing holds across batches
    _shot(pg, "listen-radio-1400")


def test_a_skip_steers_the_radio_away(open_page, server) -> None:
    albums = _ids(server[0])["albums"]
    pg = open_page()
    track = httpx.get(server[0] + f"/api/albums/{albums['Artist C Album 1']['id']}").json()["tracks"][0]["id"]
    pg.evaluate("radio.batch = 6; radio.rngSeed = 11")  # same draw every time: only the skip changes it
    pg.evaluate(f"location.hash = '#/track/{track}'")
    pg.click("#t-radio")
    pg.wait_for_function("queue.items.length === 7")
    pg.click("#next")  # from the seed to the first radio track: not a skip
    pg.wait_for_function("queue.pos === 1")
    skipped = pg.evaluate("queue.items[1].id")
    before = pg.evaluate("queue.items.slice(2).map(e => e.id)")
    with pg.expect_request(lambda r: "/api/radio" in r.url and f"avoid={skipped}" in r.url):
        pg.click("#next")  # left at once: a skip
    pg.wait_for_function("queue.pos === 2 && queue.items[1].skipped && queue.items.length >= 8")
    after = pg.evaluate("queue.items.slice(2).map(e => e.id)")
    assert after != before and skipped not in after
    assert pg.evaluate("radio.avoid") == [skipped]
    pg.click("header nav a[href='#/queue']")
    pg.wait_for_selector("#queue-list li.skipped")


def test_a_like_in_the_player_bar_stars_the_song_for_subsonic_players(open_page, server) -> None:
    base = server[0]
    albums = _ids(base)["albums"]
    pg = open_page()
    _play_album(pg, albums["Artist D Album 2"]["id"])
    pg.wait_for_function("queue.pos === 0")
    song = pg.evaluate("queue.items[0].id")
    pg.click("#like")
    pg.wait_for_function("document.querySelector('#like').getAttribute('aria-pressed') === 'true'")
    assert song in [s["id"] for s in _subsonic(base, "getStarred2")["starred2"].get("song", [])]
    pg.click("#like")
    pg.wait_for_function("document.querySelector('#like').getAttribute('aria-pressed') === 'false'")
    assert song not in [s["id"] for s in _subsonic(base, "getStarred2")["starred2"].get("song", [])]
    # a song played past its middle counts as a play, which players see too
    pg.wait_for_function("document.querySelector('#player').ended || queue.pos > 0", timeout=30000)
    played = _subsonic(base, "getSong", id=song)["song"]
    assert played.get("playCount", 0) >= 1


def test_track_page_strip_marks_the_match_and_seeks(open_page, server) -> None:
    albums = _ids(server[0])["albums"]
    track = httpx.get(server[0] + f"/api/albums/{albums['Artist E Album 1']['id']}").json()["tracks"][1]["id"]
    pg = open_page()
    pg.evaluate(f"location.hash = '#/track/{track}?from=1&to=2'")
    pg.wait_for_function("(document.querySelector('#strip-caption')?.textContent || '').includes('at 0:01–0:02')")
    box = pg.locator("#strip").bounding_box()
    pg.mouse.click(box["x"] + 0.8 * box["width"], box["y"] + box["height"] / 2)
    pg.wait_for_function(f"document.querySelector('#player').dataset.track === '{track}'")
    pg.wait_for_function("document.querySelector('#player').currentTime >= 2.0")


def test_track_page_shows_its_notes_and_what_sounds_like_it(open_page, server) -> None:
    from subsonic_fixture import NOTE

    albums = _ids(server[0])["albums"]
    track = httpx.get(server[0] + f"/api/albums/{albums['Artist A Album 1']['id']}").json()["tracks"][0]["id"]
    pg = open_page()
    pg.evaluate(f"location.hash = '#/track/{track}'")
    pg.wait_for_selector("#t-similar li.track")
    assert pg.locator("#view-track .notes").inner_text() == NOTE  # the file's comment tag
    shown = pg.eval_on_selector_all("#t-similar li.track", "els => els.map(e => e.dataset.id)")
    nearest = httpx.get(server[0] + f"/api/tracks/{track}/similar?k=8").json()["results"]
    assert shown == [r["id"] for r in nearest] and track not in shown and len(shown) == 8
    pg.locator("#t-similar li.track").nth(1).locator("button.play").click()  # plays it, the page stays
    pg.wait_for_function(f"document.querySelector('#player').dataset.track === '{shown[1]}'")
    assert pg.evaluate("location.hash") == f"#/track/{track}"


def test_map_colours_by_genre_or_artist_with_a_legend(open_page) -> None:
    pg = open_page()
    pg.click("header nav a[href='#/map']")
    pg.wait_for_function("state.map && state.map.points.length === 48")
    pg.select_option("#map-color", "genre")
    pg.wait_for_function("state.map.color_by === 'genre'")
    legend = pg.locator("#legend li").all_inner_texts()
    assert sorted(legend) == ["Ambient (12)", "Folk (12)", "Jazz (12)", "Rock (12)"]
    pg.select_option("#map-color", "artist")
    pg.wait_for_function("state.map.color_by === 'artist'")
    assert pg.locator("#legend li").count() == 8


def test_the_queue_and_results_become_playlists_shared_with_players(open_page, server) -> None:
    base = server[0]
    albums = _ids(base)["albums"]
    pg = open_page()
    _play_album(pg, albums["Artist B Album 1"]["id"], slow=True)
    pg.wait_for_function("queue.items.length === 3")
    queued = _queue(pg)
    pg.click("header nav a[href='#/queue']")
    pg.click("#queue-save")
    pg.fill("#queue-save-name", "Harbour mix")
    pg.keyboard.press("Enter")
    pg.wait_for_function("document.querySelector('#view-playlist h2')?.textContent === 'Harbour mix'")
    assert pg.locator("#view-playlist li.track").count() == 3
    pid = pg.evaluate("decodeURIComponent(location.hash.split('/')[2])")
    listed = _subsonic(base, "getPlaylist", id=pid)["playlist"]
    assert [e["id"] for e in listed["entry"]] == queued  # a player sees the same playlist
    pg.locator("#view-playlist li.track .remove").first.click()
    pg.wait_for_function("document.querySelectorAll('#view-playlist li.track').length === 2")
    assert [t["id"] for t in httpx.get(f"{base}/api/playlists/{pid}").json()["tracks"]] == queued[1:]
    pg.click("#pl-rename")
    pg.fill("#pl-name", "Harbour")
    pg.keyboard.press("Enter")
    pg.wait_for_function("document.querySelector('#view-playlist h2').textContent === 'Harbour'")
    pg.click("header nav a[href='#/playlists']")
    pg.wait_for_selector("#playlists-list li.card")
    card = pg.locator("#playlists-list li.card", has_text="Harbour")
    assert "2 tracks" in card.inner_text()
    card.locator(".card-play").click()  # plays the playlist from its card
    pg.wait_for_function(f"queue.items.map((e) => e.id).join() === {json.dumps(','.join(queued[1:]))}")
    card.locator("a").click()
    pg.wait_for_selector("#view-playlist li.track")
    pg.click("#pl-delete")
    assert pg.inner_text("#pl-delete") == "Delete for good?" and httpx.get(f"{base}/api/playlists/{pid}").is_success
    pg.click("#pl-delete")
    pg.wait_for_function("location.hash === '#/playlists'")
    assert httpx.get(f"{base}/api/playlists/{pid}").status_code == 404
    # a list of results too, named after the search unless renamed
    pg.evaluate(f"location.hash = '#/search?like={queued[0]}&view=sound'")
    pg.wait_for_selector("#results li")
    found = pg.evaluate("state.results.map((r) => r.id)")
    pg.click("#results-save")
    assert pg.input_value("#results-save-name").startswith("Tracks that sound like Artist B Song 1.1")
    pg.keyboard.press("Enter")
    pg.wait_for_selector("#view-playlist li.track")
    saved = pg.evaluate("decodeURIComponent(location.hash.split('/')[2])")
    assert [t["id"] for t in httpx.get(f"{base}/api/playlists/{saved}").json()["tracks"]] == found
    httpx.delete(f"{base}/api/playlists/{saved}")
    # a track page adds its track to a new playlist named after it, then to that one again
    pg.evaluate(f"location.hash = '#/track/{queued[2]}'")
    pg.wait_for_selector("#view-track h2")
    title = pg.inner_text("#view-track h2")
    for _ in range(2):
        pg.click("#t-playlist")
        pg.wait_for_selector("#t-playlist-pick option", state="attached")
        if _:
            pg.select_option("#t-playlist-pick", label=f"{title} (1 track)")
        pg.click("#t-playlist-pick ~ button")
        pg.wait_for_selector("#t-playlist-pick", state="hidden")
    (mine,) = [p for p in httpx.get(f"{base}/api/playlists").json()["playlists"] if p["name"] == title]
    assert [t["id"] for t in httpx.get(f"{base}/api/playlists/{mine['id']}").json()["tracks"]] == [queued[2]] * 2
    httpx.delete(f"{base}/api/playlists/{mine['id']}")


PAGES = ["home", "album", "artist", "artists", "genre", "track", "queue", "map", "search", "playlists", "playlist"]
TAPPABLE = ("button, select, input:not([type=hidden]), header nav a, .chips a, .card > a, #queue-link, "
            "details > summary")  # fmt: skip


def _visit(pg, name: str, base: str) -> None:
    ids = _ids(base)
    album = ids["albums"]["Artist F Album 1"]
    if name == "search":
        pg.fill("#q", "artist")
        pg.select_option("#mode", "tags")
        pg.keyboard.press("Enter")
        pg.wait_for_function("!$('#view-search').hidden && /artist/.test($('#explain').textContent)")
        return
    track = httpx.get(f"{base}/api/albums/{album['id']}").json()["tracks"][0]["id"]
    if name.startswith("playlist"):
        mine = [p for p in httpx.get(f"{base}/api/playlists").json()["playlists"] if p["name"] == "Looked at"]
        pid = (
            mine[0]["id"]
            if mine
            else httpx.post(f"{base}/api/playlists", json={"name": "Looked at", "tracks": [track]}).json()["id"]
        )
        pg.evaluate(f"location.hash = {json.dumps('#/playlists' if name == 'playlists' else f'#/playlist/{pid}')}")
        pg.wait_for_selector("#playlists-list li.card" if name == "playlists" else "#view-playlist li.track")
        return
    hashes = {"home": "#/", "album": f"#/album/{album['id']}", "artist": f"#/artist/{album['artist_id']}",
              "artists": "#/artists", "genre": "#/genre/Folk", "queue": "#/queue", "map": "#/map",
              "track": f"#/track/{track}"}  # fmt: skip
    pg.evaluate(f"location.hash = {json.dumps(hashes[name])}")
    ready = {"home": "#home-albums li.card", "album": "#view-album li.track", "artist": "#view-artist li.card",
             "artists": "#artists-list li", "genre": "#view-genre li.track", "track": "#strip-caption:not(:empty)",
             "queue": "#queue-list li", "map": "#legend li"}  # fmt: skip
    pg.wait_for_selector(ready[name])


SMALL_TARGETS = """(sel) => [...document.querySelectorAll(sel)]
  .filter(e => e.offsetParent !== null || e.closest('#playerbar'))
  .map(e => [e, e.getBoundingClientRect()]).filter(([e, r]) => r.width > 0 && (r.width < 40 || r.height < 40))
  .map(([e, r]) => `${e.tagName}#${e.id}.${e.className} ${Math.round(r.width)}x${Math.round(r.height)}`)"""


@pytest.mark.parametrize("width", [1400, 375])
def test_every_main_page_passes_axe_fits_the_width_and_is_screenshotted(open_page, server, width) -> None:
    if not AXE.is_file():
        pytest.fail(f"axe-core is missing at {AXE}: run make test-deps (npm ci in tests/web)")
    pg = open_page(width)
    pg.evaluate("document.querySelector('#home-albums li.card .card-play').click()")  # something in the queue
    pg.wait_for_function("queue.items.length > 0")
    for name in PAGES:
        _visit(pg, name, server[0])
        pg.wait_for_timeout(300)  # lazy covers and the strip settle
        _shot(pg, f"listen-{name}-{width}")
        pg.add_script_tag(path=str(AXE))
        found = pg.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
            ".map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))"
        )
        assert found == [], (name, width, found)
        if width == 375:
            assert pg.evaluate("document.documentElement.scrollWidth") <= 375, name
            small = pg.evaluate(SMALL_TARGETS, TAPPABLE)
            assert small == [], (name, small)
