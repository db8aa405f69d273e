"""The Subsonic wire format without a server: envelopes, the XML/JSON list rules, errors, authentication, ids."""

from __future__ import annotations

import hashlib
import json

import pytest

from tonearm import __version__
from tonearm.api.subsonic import auth
from tonearm.api.subsonic.protocol import Params, SubsonicError, to_json, to_jsonp, to_xml
from tonearm.search.catalog import album_id, artist_id, build

HEAD = (f'<?xml version="1.0" encoding="UTF-8"?><subsonic-response xmlns="http://subsonic.org/restapi" status="{{}}" '
        f'version="1.16.1" type="tonearm" serverVersion="{__version__}" openSubsonic="true"')  # fmt: skip


def _json(payload, **kw) -> dict:
    return json.loads(to_json(payload, **kw))["subsonic-response"]


def test_empty_ok_envelope_in_both_encodings():
    assert to_xml(None).decode() == HEAD.format("ok") + " />"
    assert _json(None) == {"status": "ok", "version": "1.16.1", "type": "tonearm", "serverVersion": __version__,
                           "openSubsonic": True}  # fmt: skip


def test_lists_of_one_and_of_none_stay_lists():
    one = ("albumList2", {"album": [{"id": "al-1", "name": "A", "songCount": 3, "duration": 61, "starred": None}]})
    none = ("albumList2", {"album": []})
    assert _json(one)["albumList2"] == {"album": [{"id": "al-1", "name": "A", "songCount": 3, "duration": 61}]}
    assert _json(none)["albumList2"] == {"album": []}
    assert (
        to_xml(one).decode() == HEAD.format("ok") + '><albumList2><album id="al-1" name="A" songCount="3" '
        'duration="61" /></albumList2></subsonic-response>'
    )
    assert to_xml(none).decode() == HEAD.format("ok") + "><albumList2 /></subsonic-response>"


def test_single_objects_types_text_values_and_child_scalars():
    song = ("song", {"id": "00ab", "isDir": False, "title": "Tom & Jerry <3", "track": 2, "genres": [{"name": "Rock"}]})
    body = _json(song)["song"]
    assert body["isDir"] is False and body["track"] == 2 and isinstance(body, dict)  # an object, not an array
    xml = to_xml(song).decode()
    assert '<song id="00ab" isDir="false" title="Tom &amp; Jerry &lt;3" track="2"><genres name="Rock" /></song>' in xml
    genres = ("genres", {"genre": [{"value": "Jazz", "songCount": 2, "albumCount": 1}]})
    assert '<genre songCount="2" albumCount="1">Jazz</genre>' in to_xml(genres).decode()
    assert _json(genres)["genres"]["genre"] == [{"value": "Jazz", "songCount": 2, "albumCount": 1}]
    match = ("sonicMatch", [{"entry": {"id": "x", "isDir": False, "title": "t"}, "similarity": 0.95}])
    assert ('<sonicMatch><entry id="x" isDir="false" title="t" /><similarity>0.95</similarity></sonicMatch>'
            in to_xml(match).decode())  # fmt: skip
    assert _json(match)["sonicMatch"] == [{"entry": {"id": "x", "isDir": False, "title": "t"}, "similarity": 0.95}]
    versions = ("openSubsonicExtensions", [{"name": "formPost", "versions": [1]}])
    assert (
        '<openSubsonicExtensions name="formPost"><versions>1</versions></openSubsonicExtensions>'
        in to_xml(versions).decode()
    )


@pytest.mark.parametrize("code", [0, 10, 40, 41, 43, 44, 50, 70])
def test_errors_are_failed_envelopes(code):
    err = SubsonicError(code, f"message {code}")
    assert (
        to_xml(None, "failed", err).decode()
        == HEAD.format("failed") + f'><error code="{code}" message="message {code}" /></subsonic-response>'
    )
    body = _json(None, status="failed", error=err)
    assert body["status"] == "failed" and body["error"] == {"code": code, "message": f"message {code}"}


def test_jsonp_wraps_and_refuses_script_injection():
    assert to_jsonp(None, "cb_1").startswith('cb_1({"subsonic-response":') and to_jsonp(None, "cb").endswith(");")
    with pytest.raises(SubsonicError):
        to_jsonp(None, "alert(1);x")


def test_control_characters_never_break_the_xml():
    from xml.etree import ElementTree as ET

    ET.fromstring(to_xml(("song", {"id": "1", "isDir": False, "title": "bad\x00\x07title"})))


def test_params_repeat_keys_and_read_form_bodies():
    p = Params([("id", "a"), ("f", "json")], b"id=b&id=c&u=joe&songIndexToRemove=", "application/x-www-form-urlencoded")
    assert p.all("id") == ["a", "b", "c"] and p.get("u") == "joe" and p.all("songIndexToRemove") == []
    assert Params([("size", "12")]).integer("size", 10, high=5) == 5
    with pytest.raises(SubsonicError) as e:
        Params([("size", "lots")]).integer("size", 10)
    assert e.value.code == 0
    with pytest.raises(SubsonicError) as e:
        Params([]).require("id")
    assert e.value.code == 10


CREDS = auth.Credentials("tonearm", "sesame", "key-123")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ([("u", "tonearm"), ("p", "sesame")], None),
        ([("u", "tonearm"), ("p", "enc:" + b"sesame".hex().upper())], None),
        ([("u", "tonearm"), ("p", "enc:" + b"sesame".hex())], None),
        ([("u", "tonearm"), ("t", "26719a1196d2a940705a59634eb18eab"), ("s", "c19b2d")], None),  # the spec's vector
        ([("apiKey", "key-123")], None),
        ([("u", "tonearm"), ("p", "wrong")], 40),
        ([("u", "someone"), ("p", "sesame")], 40),
        ([("u", "tonearm"), ("t", "0" * 32), ("s", "c19b2d")], 40),
        ([("u", "tonearm")], 10),
        ([], 10),
        ([("u", "tonearm"), ("t", "26719a1196d2a940705a59634eb18eab")], 10),
        ([("apiKey", "key-123"), ("u", "tonearm")], 43),
        ([("apiKey", "nope")], 44),
    ],
)
def test_authentication_modes(params, code):
    assert hashlib.md5(b"sesamec19b2d").hexdigest() == "26719a1196d2a940705a59634eb18eab"
    if code is None:
        auth.check(Params(params), CREDS)
    else:
        with pytest.raises(SubsonicError) as err:
            auth.check(Params(params), CREDS)
        assert err.value.code == code


def test_secret_is_generated_once_stored_private_and_rotated(tmp_path, monkeypatch):
    monkeypatch.delenv("TONEARM_SUBSONIC_SECRET", raising=False)
    lib = str(tmp_path / "lib")
    first, created = auth.load(lib)
    again, created_again = auth.load(lib)
    assert created and not created_again and first == again and len(first.secret) >= 16
    assert (auth.credentials_file(lib).stat().st_mode & 0o777) == 0o600
    rotated = auth.rotate(lib)
    assert rotated.secret != first.secret and rotated.api_key == first.api_key
    assert auth.load(lib)[0].secret == rotated.secret
    monkeypatch.setenv("TONEARM_SUBSONIC_SECRET", "from-env")
    assert auth.load(lib)[0].secret == "from-env"


def _row(i, **kw):
    base = {"id": f"{i:016x}", "path": f"/m/{kw.get('album', 'x')}/{i}.flac", "title": f"t{i}", "duration": 10.0,
            "added_at": 100.0 + i}  # fmt: skip
    return dict(base, **kw)


def test_catalog_ids_come_from_tags_only():
    rows = [
        _row(1, artist="The Band", album="First", track_no=2),
        _row(2, artist="the  band", album="FIRST", track_no=1),
        _row(3, artist="Solo", albumartist="The Band", album="First", track_no=3),
        _row(4, artist="Other", album=None, path="/m/Loose tracks/4.flac"),
        _row(5, artist="The Band", album="First", dup_group="0000000000000001"),
    ]
    cat = build(rows)
    assert set(cat.songs) == {r["id"] for r in rows[:4]}  # the duplicate copy is not listed
    band_first = album_id("The Band", "First")
    assert cat.albums[band_first].songs == [rows[1]["id"], rows[0]["id"], rows[2]["id"]]  # disc/track order
    assert cat.album_of[rows[3]["id"]] == album_id("Other", "Loose tracks")  # no album tag: its folder's name
    assert artist_id("The Band") == artist_id("THE BAND ") and cat.artists[artist_id("The Band")].albums == [band_first]
    assert build(list(reversed(rows))).albums.keys() == cat.albums.keys()  # row order changes nothing
    assert cat.search("ban fir", list(cat.albums)) == [band_first] and cat.search("", ["a"]) == ["a"]


def test_listener_state_on_postgres(postgres_url):
    """Stars, ratings, plays and playlists live in the library on the PostgreSQL backend too."""
    import uuid

    from tonearm.search.taste import taste
    from tonearm.store import listening, open_store

    store = open_store(f"{postgres_url}{'&' if '?' in postgres_url else '?'}library=s_{uuid.uuid4().hex[:10]}")
    listening.record_play(store, "a" * 16, at=1000.0)
    listening.record_play(store, "a" * 16, at=2000.0)
    listening.set_starred(store, ["al-x"], True)
    listening.set_rating(store, "al-x", 4)
    listening.save_playlist(store, "pl-1", {"name": "n", "entries": ["a" * 16]})
    assert listening.play_counts(store)["a" * 16] == (2, 2000.0)
    assert list(listening.starred(store)) == ["al-x"] and listening.ratings(store) == {"al-x": 4}
    assert taste(store, now=2000.0)[0][0] == "a" * 16
    assert listening.delete_playlist(store, "pl-1") and listening.playlists(store) == {}
