"""Tags and sidecars."""

from __future__ import annotations

import json

import pytest
from conftest import synth, write_audio

from tonearm.library.metadata import SidecarReader, read_tags, sidecar_signature, to_columns


def test_tags_from_flac_and_mp3(tmp_path):
    y = synth("tonal", 1.0)
    tags = {"title": "Blue", "artist": "Ann", "album": "Sky", "genre": "Jazz", "date": "1994-05-01",
            "tracknumber": "3/12", "musicbrainz_trackid": "0f7e-11"}  # fmt: skip
    for ext in (".flac", ".mp3"):
        got = read_tags(str(write_audio(tmp_path / f"a{ext}", y, tags=tags)))
        cols, _, _ = to_columns(got, {}, {})
        assert cols["title"] == "Blue" and cols["artist"] == "Ann" and cols["genre"] == "Jazz"
        assert cols["year"] == 1994 and cols["track_no"] == 3
        assert cols["musicbrainz_trackid"] == "0f7e-11"


def test_embedded_lyrics_uslt(tmp_path):
    from mutagen.id3 import ID3, USLT

    path = write_audio(tmp_path / "song.mp3", synth("tonal", 1.0), tags={"title": "x"})
    id3 = ID3(str(path))
    id3.add(USLT(encoding=3, lang="eng", desc="", text="la la love"))
    id3.save()
    assert read_tags(str(path))["lyrics"] == "la la love"


def test_comment_description_and_lyrics_tags_in_every_container(tmp_path):
    from mutagen.id3 import COMM, ID3, TDES
    from mutagen.mp4 import MP4

    y = synth("tonal", 1.0)
    notes = {"title": "Ep 7", "comment": "How to grow <b>tomatoes</b> on a balcony &amp; what to compost",
             "description": "<p>Small Plot Radio, episode seven.</p>", "lyrics": "la la love you"}  # fmt: skip
    for ext in (".flac", ".ogg"):  # Vorbis comments (a LYRICS tag there was never read before)
        got = read_tags(str(write_audio(tmp_path / f"v{ext}", y, tags=notes)))
        assert got["comment"] == "How to grow tomatoes on a balcony & what to compost", got
        assert got["description"] == "Small Plot Radio, episode seven." and got["lyrics"] == "la la love you"
    mp3 = write_audio(tmp_path / "a.mp3", y, tags={"title": "x"})
    id3 = ID3(str(mp3))
    id3.add(COMM(encoding=3, lang="eng", desc="iTunNORM", text=" 00000A2B 00000C1D 0000FF12"))
    id3.add(COMM(encoding=3, lang="eng", desc="", text="Recorded live at the pier"))
    id3.add(TDES(encoding=3, text="A show about boats"))
    id3.save()
    got = read_tags(str(mp3))
    assert got["comment"] == "Recorded live at the pier" and got["description"] == "A show about boats"
    m4a = write_audio(tmp_path / "a.m4a", y)
    mp4 = MP4(str(m4a))
    mp4["\xa9cmt"], mp4["desc"] = ["Recorded in one take"], ["Second set of the night"]
    mp4.save()
    got = read_tags(str(m4a))
    assert got["comment"] == "Recorded in one take" and got["description"] == "Second set of the night"
    for comment, description in (("0000 1A2B 77", "https://example.org/rips/ep7"),
                                 ("Amazon.com Song ID: 226151225", "Ripped by someone with EAC")):  # fmt: skip
        junk = read_tags(
            str(write_audio(tmp_path / "j.flac", y, tags={"comment": comment, "description": description}))
        )
        assert "comment" not in junk and "description" not in junk  # numbers, a lone link, stamps: say nothing
    cols, new, _ = to_columns(read_tags(str(tmp_path / "v.flac")), {}, {})
    assert cols["comment"].startswith("How to grow") and new["comment"] == "string"  # filterable, like sidecars


def test_replaygain_in_every_container_against_one_reference(tmp_path):
    import mutagen
    from mutagen.apev2 import APEv2
    from mutagen.id3 import ID3, RVA2, TXXX
    from mutagen.mp4 import MP4, MP4FreeForm

    y = synth("tonal", 1.0)
    flac = write_audio(tmp_path / "a.flac", y)
    f = mutagen.File(str(flac))
    f["REPLAYGAIN_TRACK_GAIN"], f["REPLAYGAIN_TRACK_PEAK"], f["replaygain_album_gain"] = "-6.48 dB", "0.988", "-7.1 dB"
    f.save()
    assert {k: v for k, v in read_tags(str(flac)).items() if k.startswith("replaygain")} == {
        "replaygain_track_gain": -6.48, "replaygain_track_peak": 0.988, "replaygain_album_gain": -7.1,
    }  # fmt: skip
    opus = write_audio(tmp_path / "a.opus", y)
    f = mutagen.File(str(opus))
    f["R128_TRACK_GAIN"] = "-1408"  # -5.5 dB against -23 LUFS: -0.5 dB against ReplayGain's -18
    f.save()
    assert read_tags(str(opus))["replaygain_track_gain"] == -0.5
    mp3 = write_audio(tmp_path / "a.mp3", y, tags={"title": "x"})
    id3 = ID3(str(mp3))
    id3.add(TXXX(encoding=3, desc="REPLAYGAIN_TRACK_GAIN", text=["+3.20 dB"]))
    id3.add(TXXX(encoding=3, desc="replaygain_track_peak", text=["1.02"]))  # float masters pass 1.0
    id3.add(RVA2(desc="album", channel=1, gain=-4.5, peak=0.5))  # the older frame
    id3.save()
    got = read_tags(str(mp3))
    assert (got["replaygain_track_gain"], got["replaygain_track_peak"]) == (3.2, 1.02)
    assert got["replaygain_album_gain"] == -4.5 and got["replaygain_album_peak"] == pytest.approx(0.5, abs=1e-4)
    mp3gain = write_audio(tmp_path / "b.mp3", y)  # mp3gain writes an APEv2 block, not ID3
    ape = APEv2()
    ape["REPLAYGAIN_TRACK_GAIN"], ape["MP3GAIN_MINMAX"] = "-2.5 dB", "120,210"
    ape.save(str(mp3gain))
    assert read_tags(str(mp3gain))["replaygain_track_gain"] == -2.5
    m4a = write_audio(tmp_path / "a.m4a", y)
    mp4 = MP4(str(m4a))
    mp4["----:com.apple.iTunes:replaygain_track_gain"] = [MP4FreeForm(b"-9.00 dB")]
    mp4["----:com.apple.iTunes:REPLAYGAIN_TRACK_PEAK"] = [MP4FreeForm(b"0.5")]
    mp4.save()
    got = read_tags(str(m4a))
    assert (got["replaygain_track_gain"], got["replaygain_track_peak"]) == (-9.0, 0.5)
    junk = write_audio(tmp_path / "j.flac", y)
    f = mutagen.File(str(junk))
    f["REPLAYGAIN_TRACK_GAIN"], f["REPLAYGAIN_TRACK_PEAK"], f["REPLAYGAIN_ALBUM_GAIN"] = "loud", "0", "-900 dB"
    f["REPLAYGAIN_ALBUM_PEAK"] = "nan"
    f.save()
    assert not any(k.startswith("replaygain") for k in read_tags(str(junk)))  # garbage is no gain
    cols, new, _ = to_columns(read_tags(str(flac)), {}, {})
    assert cols["replaygain_track_gain"] == -6.48 and not new  # core columns: filterable, not custom fields


def test_sidecars_json_csv_jsonl_and_precedence(tmp_path):
    audio = write_audio(tmp_path / "t.flac", synth("tonal", 1.0), tags={"title": "From tags"})
    (tmp_path / "tracks.csv").write_text("file,popularity,mood\nt.flac,71,calm\nother.flac,1,x\n")
    reader = SidecarReader()
    assert reader.read(str(audio)) == {"popularity": "71", "mood": "calm"}
    (tmp_path / "t.flac.json").write_text(json.dumps({"title": "From sidecar", "urls": ["http://a"], "bpm": 92}))
    merged = SidecarReader().read(str(audio))
    cols, new, _ = to_columns(read_tags(str(audio)), merged, {})
    assert cols["title"] == "From sidecar"  # sidecar beats tags
    assert cols["popularity"] == 71.0 and cols["mood"] == "calm" and cols["bpm"] == 92.0
    assert json.loads(cols["urls"]) == ["http://a"]
    assert new == {"mood": "string", "bpm": "number"}
    (tmp_path / "tracks.jsonl").write_text(json.dumps({"file": "t.flac", "live": True}) + "\n")
    assert SidecarReader().read(str(audio))["live"] is True


def test_custom_value_that_does_not_fit_its_column_is_not_forced(tmp_path):
    cols, new, merged = to_columns({}, {"bpm": "fast"}, {"bpm": "number"})
    assert "bpm" not in cols and new == {}
    assert merged["bpm"] == "fast"  # still kept in the row's metadata JSON


def test_sidecar_signature_changes_with_edits(tmp_path):
    audio = write_audio(tmp_path / "t.flac", synth("tonal", 1.0))
    assert sidecar_signature(str(audio)) == ""
    side = tmp_path / "t.json"
    side.write_text("{}")
    first = sidecar_signature(str(audio))
    side.write_text('{"mood": "sad"}')
    assert first and sidecar_signature(str(audio)) != first


def test_broken_sidecar_is_ignored(tmp_path):
    audio = write_audio(tmp_path / "t.flac", synth("tonal", 1.0))
    (tmp_path / "t.flac.json").write_text("{not json")
    assert SidecarReader().read(str(audio)) == {}
