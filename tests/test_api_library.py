"""The library endpoints behind the web app's home and pages: paging, covers, stars, plays, loudness, radio joins."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import soundfile as sf
from conftest import SUBSONIC_SECRET, serve_library, synth, write_audio

from tonearm.audio.loudness import loudness_strip, strip
from tonearm.library.indexer import Indexer
from tonearm.library.levels import gain_db
from tonearm.store import listening, open_store


def test_home_albums_artists_and_genres(listening_server) -> None:
    base = listening_server[0]
    home = httpx.get(f"{base}/api/home", params={"recent": 5, "artists": 3}).json()
    assert home["counts"] | {"starred": 0, "failed": 0} == {"tracks": 48, "albums": 16, "artists": 8, "genres": 4,
                                                            "starred": 0, "failed": 0}  # fmt: skip
    assert len(home["recent_albums"]) == 5 and len(home["artists"]) == 3
    assert [g["songs"] for g in home["genres"]] == [12, 12, 12, 12]
    pages = [httpx.get(f"{base}/api/albums", params={"offset": o, "limit": 6}).json() for o in (0, 6, 12)]
    names = [a["name"] for p in pages for a in p["albums"]]
    assert pages[0]["total"] == 16 and len(names) == 16 and names == sorted(names)
    by_year = httpx.get(f"{base}/api/albums", params={"sort": "year", "limit": 2}).json()["albums"]
    assert by_year[0]["year"] == 2007
    assert httpx.get(f"{base}/api/albums", params={"sort": "colour"}).status_code == 400
    assert httpx.get(f"{base}/api/albums/al-nothing").status_code == 404
    album = httpx.get(f"{base}/api/albums/{pages[0]['albums'][0]['id']}").json()
    assert [t["track_no"] for t in album["tracks"]] == [1, 2, 3]
    artist = httpx.get(f"{base}/api/artists/{album['artist_id']}").json()
    assert len(artist["albums"]) == 2 and artist["songs"] == 6
    assert httpx.get(f"{base}/api/artists", params={"limit": 5}).json()["total"] == 8
    jazz = httpx.get(f"{base}/api/genres/Jazz").json()
    assert jazz["songs"] == 12 and len(jazz["albums"]) == 4 and len(jazz["tracks"]) == 12
    assert httpx.get(f"{base}/api/genres/Polka").status_code == 404


def test_covers_stars_plays_and_loudness(listening_server) -> None:
    base = listening_server[0]
    albums = {a["name"]: a for a in httpx.get(f"{base}/api/albums", params={"limit": 100}).json()["albums"]}
    embedded = httpx.get(base + albums["Artist C Album 1"]["cover"])
    beside = httpx.get(base + albums["Artist B Album 2"]["cover"].replace("size=300", "size=50"))  # cover.jpg
    drawn = httpx.get(base + albums["Artist D Album 2"]["cover"])
    assert embedded.headers["content-type"] == "image/jpeg" and beside.headers["content-type"] == "image/jpeg"
    assert drawn.headers["content-type"] == "image/png"
    assert httpx.get(f"{base}/api/covers/x", params={"size": 5000}).status_code == 422
    song = httpx.get(f"{base}/api/albums/{albums['Artist G Album 2']['id']}").json()["tracks"][0]["id"]
    assert httpx.put(f"{base}/api/stars/{song}").json() == {"id": song, "starred": True}
    assert song in httpx.get(f"{base}/api/stars").json()["ids"]
    auth = {"u": "tonearm", "p": SUBSONIC_SECRET, "v": "1.16.1", "c": "pytest", "f": "json"}
    starred = httpx.get(f"{base}/rest/getStarred2", params=auth).json()["subsonic-response"]["starred2"]
    assert song in [s["id"] for s in starred["song"]]
    httpx.delete(f"{base}/api/stars/{song}")
    assert song not in httpx.get(f"{base}/api/stars").json()["ids"]
    assert httpx.put(f"{base}/api/stars/nope").status_code == 404
    first = httpx.post(f"{base}/api/tracks/{song}/plays").json()["plays"]
    assert httpx.post(f"{base}/api/tracks/{song}/plays").json()["plays"] == first + 1
    assert httpx.post(f"{base}/api/tracks/0000000000000000/plays").status_code == 404
    strip_ = httpx.get(f"{base}/api/tracks/{song}/loudness", params={"points": 30}).json()
    assert abs(strip_["duration"] - 3.0) < 0.05 and len(strip_["points"]) == 30
    assert all(0.0 <= v <= 1.0 for v in strip_["points"]) and max(strip_["points"]) == 1.0
    assert httpx.get(f"{base}/api/tracks/{song}/loudness", params={"points": 3}).status_code == 422
    level = httpx.get(f"{base}/api/tracks/{song}/level").json()
    assert level["id"] == song and level["target_lufs"] == -14.0 and -60 < level["lufs"] < 0
    assert level["gain_db"] == gain_db(level["lufs"], level["peak"])
    assert httpx.get(f"{base}/api/tracks/0000000000000000/level").status_code == 404


def test_playlists_are_shared_with_subsonic_players(listening_server) -> None:
    base = listening_server[0]
    auth = {"u": "tonearm", "p": SUBSONIC_SECRET, "v": "1.16.1", "c": "pytest", "f": "json"}
    albums = httpx.get(f"{base}/api/albums", params={"limit": 3}).json()["albums"]
    tracks = [t["id"] for a in albums for t in httpx.get(f"{base}/api/albums/{a['id']}").json()["tracks"]][:5]
    made = httpx.post(f"{base}/api/playlists", json={"name": "  Sunday   morning ", "tracks": tracks})
    assert made.status_code == 201, made.text
    pl = made.json()
    assert (pl["name"], pl["songs"], [t["id"] for t in pl["tracks"]], pl["missing"]) == ("Sunday morning", 5, tracks, 0)
    assert pl["duration"] > 0 and pl["cover"].startswith("/api/covers/")
    # a player sees it, renames it and drops a song; the web app sees that
    sub = httpx.get(f"{base}/rest/getPlaylist", params={**auth, "id": pl["id"]}).json()["subsonic-response"]
    assert [e["id"] for e in sub["playlist"]["entry"]] == tracks and sub["playlist"]["owner"] == "tonearm"
    httpx.get(f"{base}/rest/updatePlaylist",
              params={**auth, "playlistId": pl["id"], "name": "Sunday", "songIndexToRemove": 0})  # fmt: skip
    again = httpx.get(f"{base}/api/playlists/{pl['id']}").json()
    assert again["name"] == "Sunday" and [t["id"] for t in again["tracks"]] == tracks[1:]
    # one made by a player is listed here, most recently changed first
    httpx.get(f"{base}/rest/createPlaylist", params={**auth, "name": "From the phone", "songId": tracks[:2]})
    listed = httpx.get(f"{base}/api/playlists").json()["playlists"]
    assert [p["name"] for p in listed[:2]] == ["From the phone", "Sunday"] and listed[0]["songs"] == 2
    changed = httpx.put(f"{base}/api/playlists/{pl['id']}", json={"tracks": tracks[::-1], "comment": "slow ones"})
    assert [t["id"] for t in changed.json()["tracks"]] == tracks[::-1] and changed.json()["comment"] == "slow ones"
    assert changed.json()["name"] == "Sunday"  # what was left out stays
    # a track whose file left the library stays in the playlist, unlisted, when tracks are added
    store = open_store(str(listening_server[2]), create=False)
    value = listening.playlists(store)[pl["id"]]
    listening.save_playlist(store, pl["id"], {**value, "entries": [*value["entries"], "gone-track"]})
    store.close()
    added = httpx.put(f"{base}/api/playlists/{pl['id']}", json={"add": [tracks[0]]}).json()
    assert [t["id"] for t in added["tracks"]] == [*tracks[::-1], tracks[0]] and added["missing"] == 1
    sub = httpx.get(f"{base}/rest/getPlaylist", params={**auth, "id": pl["id"]}).json()["subsonic-response"]
    assert sub["playlist"]["songCount"] == 6  # players list what is there
    bad = [
        httpx.post(f"{base}/api/playlists", json={"name": "x", "tracks": ["no-such-track"]}),
        httpx.post(f"{base}/api/playlists", json={"name": "   ", "tracks": []}),
        httpx.post(f"{base}/api/playlists", json={"tracks": tracks}),
        httpx.put(f"{base}/api/playlists/pl-nothing", json={"name": "y"}),
        httpx.get(f"{base}/api/playlists/pl-nothing"),
    ]
    assert [r.status_code for r in bad] == [400, 400, 422, 404, 404]
    assert "no-such-track" in bad[0].json()["detail"]
    assert httpx.delete(f"{base}/api/playlists/{pl['id']}").json() == {"id": pl["id"], "deleted": True}
    assert httpx.delete(f"{base}/api/playlists/{pl['id']}").status_code == 404
    gone = httpx.get(f"{base}/rest/getPlaylists", params=auth).json()["subsonic-response"]["playlists"]["playlist"]
    assert pl["id"] not in [p["id"] for p in gone]
    for p in httpx.get(f"{base}/api/playlists").json()["playlists"]:  # leave the shared server as it was
        httpx.delete(f"{base}/api/playlists/{p['id']}")


def test_level_of_a_gone_or_damaged_file_is_a_clear_error(tmp_path) -> None:
    media = tmp_path / "m"
    for name in ("gone.flac", "damaged.flac"):
        write_audio(media / name, synth("tonal", 2.0))
    store = open_store(str(tmp_path / "lib"))
    Indexer(store, {"sound": "dsp"}).run([str(media)], workers=1)
    ids = {Path(r["path"]).name: r["id"] for r in store.scan(columns=["id", "path"])}
    store.close()
    (media / "gone.flac").unlink()
    (media / "damaged.flac").write_bytes(b"fLaC" + bytes(range(256)) * 20)
    proc, base = serve_library(tmp_path / "lib", media)
    try:
        gone = httpx.get(f"{base}/api/tracks/{ids['gone.flac']}/level")
        damaged = httpx.get(f"{base}/api/tracks/{ids['damaged.flac']}/level")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert gone.status_code == 410 and "gone" in gone.json()["detail"]
    assert damaged.status_code == 415 and "\n" not in damaged.json()["detail"], damaged.text


def test_map_colours_by_a_field_it_also_shows(listening_server) -> None:
    base = listening_server[0]
    m = httpx.get(f"{base}/api/map", params={"color_by": "artist"}).json()
    assert m["label_field"] == "artist" and len({p["label"] for p in m["points"]}) == 8


def test_radio_join_keeps_artists_apart_and_excluded_tracks_out(listening_server) -> None:
    base = listening_server[0]
    songs = httpx.get(f"{base}/api/genres/Rock").json()["tracks"]  # artists A and E
    seed = songs[0]
    plain = httpx.get(f"{base}/api/radio", params={"seed": seed["id"], "length": 6, "rng_seed": 1}).json()["results"]
    joined = {"seed": seed["id"], "length": 6, "rng_seed": 1, "follows": [seed["id"]], "exclude": [plain[0]["id"]]}
    out = httpx.get(f"{base}/api/radio", params=joined).json()
    got = out["results"]
    assert got[0]["artist"] != seed["artist"]  # spacing runs on from the track that plays before the list
    assert plain[0]["id"] not in [r["id"] for r in got]


def test_loudness_strip_follows_the_signal(tmp_path) -> None:
    sr = 8000
    t = np.arange(6 * sr) / sr
    y = np.sin(2 * np.pi * 440 * t).astype(np.float32) * np.where(t < 3, 0.5, 0.005).astype(np.float32)
    sf.write(str(tmp_path / "steps.wav"), y, sr)
    duration, values = loudness_strip(tmp_path / "steps.wav", points=60)
    assert abs(duration - 6.0) < 1e-3 and values.size == 60
    assert values[:28].min() > 0.95 and values[32:].max() < 0.2  # 40 dB quieter: near the bottom of a 45 dB strip
    assert strip(np.zeros(0, np.float32), 10).size == 0
    assert strip(np.array([1e-3, 1.0, 1e-3], np.float32), 10).size == 3  # never more columns than frames


def test_a_like_feeds_taste_as_a_few_plays(tmp_path) -> None:
    from tonearm.search.taste import STAR_PLAYS, taste
    from tonearm.store import listening, open_store

    store = open_store(str(tmp_path / "lib"))
    listening.record_play(store, "a" * 16, at=1000.0)
    listening.set_starred(store, ["b" * 16, "al-x", "ar-y"], True)  # a song, an album, an artist
    scores = dict(taste(store, now=1000.0))
    assert set(scores) == {"a" * 16, "b" * 16}  # albums and artists are not tracks to seed a radio with
    assert abs(scores["b" * 16] - STAR_PLAYS) < 0.01 and scores["b" * 16] > scores["a" * 16]
