"""A small tagged library for the Subsonic tests: FLAC and MP3 files, embedded covers, a cover.jpg.

8 artists x 2 albums x 3 songs (48 tracks of 3 s), each artist with its own sound family so
radio and similar tracks have structure; the first album of every even artist has an embedded
front cover, the second album of artist 1 a ``cover.jpg`` beside its files, the rest no picture;
Artist A's first song has a comment tag and ReplayGain tags.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from conftest import SR, synth, write_audio

KINDS = ("tonal", "percussive", "noise", "chirp")
ARTISTS = [f"Artist {chr(65 + i)}" for i in range(8)]  # Artist A .. Artist H
GENRES = ("Rock", "Jazz", "Folk", "Ambient")
NOTE = "Recorded in one take at the harbour studio"  # the comment tag of Artist A's first song
REPLAY_GAIN = {"trackGain": -6.2, "trackPeak": 0.81234, "albumGain": -7.05}  # and its ReplayGain tags
FIRST_SONG_TAGS = {
    "comment": NOTE, "replaygain_track_gain": "-6.20 dB", "replaygain_track_peak": "0.812340",
    "replaygain_album_gain": "-7.05 dB",
}  # fmt: skip


def _jpeg(color: tuple[int, int, int], size: int = 64) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (size, size), color).save(out, "JPEG")
    return out.getvalue()


def _embed_cover(path: Path, data: bytes) -> None:
    if path.suffix == ".flac":
        from mutagen.flac import FLAC, Picture

        f = FLAC(str(path))
        pic = Picture()
        pic.type, pic.mime, pic.data = 3, "image/jpeg", data
        f.add_picture(pic)
        f.save()
    else:
        from mutagen.id3 import APIC, ID3

        tags = ID3(str(path))
        tags.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="front", data=data))
        tags.save()


def build(root: Path) -> Path:
    """Write the library under ``root/music``; return that folder."""
    music = root / "music"
    for a, artist in enumerate(ARTISTS):
        kind = KINDS[a % len(KINDS)]
        for b in range(2):
            album = f"{artist} Album {b + 1}"
            folder = music / artist / album
            for t in range(3):
                ext = ".flac" if (a + t) % 2 == 0 else ".mp3"
                y = synth(kind, 3.0, seed=100 * a + 10 * b + t, f0=150 + 30 * a + 7 * t)
                path = write_audio(folder / f"{t + 1:02d} Song {t + 1}{ext}", y, tags={
                    "title": f"{artist} Song {b + 1}.{t + 1}", "artist": artist, "album": album,
                    "albumartist": artist, "genre": GENRES[a % len(GENRES)], "date": str(2000 + a),
                    "tracknumber": str(t + 1), "discnumber": "1",
                    **(FIRST_SONG_TAGS if (a, b, t) == (0, 0, 0) else {}),
                })  # fmt: skip
                if b == 0 and a % 2 == 0:
                    _embed_cover(path, _jpeg((40 * a % 255, 120, 200)))
            if a == 1 and b == 1:
                (folder / "cover.jpg").write_bytes(_jpeg((250, 10, 10), 200))
    return music


def index(music: Path, lib: Path) -> None:
    from tonearm.library.indexer import Indexer
    from tonearm.store import open_store

    Indexer(open_store(str(lib)), {"sound": "dsp"}).run([str(music)], workers=2)


assert SR and np  # the fixture renders at the suite's rate
