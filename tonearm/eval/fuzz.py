"""Hostile and odd files for the index run: a seeded mutation fuzzer over real small audio files.

Why: an index run meets whatever is in a user's folders, half-downloaded files, files other tools
broke, names from other systems, pipes and loops, and must answer each with "indexed" or "failed,
because ...", never by dying or hanging. Cases are made from real files of every format tonearm
reads (encoded here with libsndfile and FFmpeg, tagged with mutagen, a cover included), changed
the ways files get damaged in practice:

* ``bitflip``: random bits flipped, half of the time in the first 4 KiB (headers);
* ``truncate``: cut anywhere, down to zero bytes or only the header;
* ``field``: a 16- or 32-bit header field (channels, sample rate, sizes) set to 0, 1 or its maximum;
* ``declared_size``: a size field (RIFF, data chunk, ID3v2 tag, MP4 atom) claiming gigabytes;
* ``splice``: the head of one file joined to the body of another format, or a chunk repeated;
* ``wrong_format``: a file of one format under another's extension, text or random bytes as audio;
* ``giant_tags``: a real tag with a multi-megabyte picture or text frame.

Plus files of kinds no mutation makes (``special_cases``): a named pipe, a character device, a
symlink loop and a dangling link named as audio, a folder link loop, names that are not UTF-8 or
are 250 bytes long. ``bench/bench_fuzz.py`` runs thousands of cases through ``tonearm index``;
``tests/test_fuzz.py`` a fixed seeded subset.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

SEED_FORMATS = ("wav", "flac", "ogg", "mp3", "m4a", "opus", "aiff")
SR = 22050
MUTATIONS = ("bitflip", "truncate", "field", "declared_size", "splice", "wrong_format", "giant_tags")


@dataclass(frozen=True)
class Case:
    """One file the index run will meet: where it is, what was done to it."""

    path: Path
    kind: str  # a mutation name, or a special kind ("fifo", "symlink_loop", ...)
    source: str = ""  # the seed format it was made from


def _tone(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = 0.3 * np.sin(2 * np.pi * (220 + 40 * seed) * t) + 0.05 * rng.standard_normal(t.size)
    return np.stack([y, np.roll(y, 100)], axis=1).astype(np.float32)


def _cover() -> bytes:
    """A small valid PNG (a real picture for the tag frames)."""
    import zlib

    raw = b"".join(b"\x00" + bytes([x * 8 % 256, 64, 128]) * 16 for x in range(16))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))  # fmt: skip


def make_seeds(folder: Path, seconds: float = 2.0) -> dict[str, bytes]:
    """One real, tagged file per format: the bytes every mutation starts from."""
    folder.mkdir(parents=True, exist_ok=True)
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        raise RuntimeError("ffmpeg is needed to make the fuzzer's seed files")
    wav = folder / "seed.wav"
    sf.write(str(wav), _tone(seconds, 1), SR, subtype="PCM_16")
    seeds = {"wav": wav.read_bytes()}
    sf.write(str(folder / "seed.flac"), _tone(seconds, 2), SR)
    sf.write(str(folder / "seed.ogg"), _tone(seconds, 3), SR, format="OGG", subtype="VORBIS")
    sf.write(str(folder / "seed.aiff"), _tone(seconds, 4), SR, format="AIFF", subtype="PCM_16")
    for fmt, args in (("mp3", ["-b:a", "64k"]), ("m4a", ["-c:a", "aac", "-b:a", "64k"]),
                      ("opus", ["-c:a", "libopus", "-b:a", "32k"])):  # fmt: skip
        subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-i", str(wav), *args, str(folder / f"seed.{fmt}")],
                       check=True)  # fmt: skip
    for fmt in SEED_FORMATS[1:]:
        path = folder / f"seed.{fmt}"
        _tag(path, fmt, "Seed", _cover())
        seeds[fmt] = path.read_bytes()
    return seeds


def _tag(path: Path, fmt: str, title: str, picture: bytes, text: str = "") -> None:
    """Real tags with a front cover, written by mutagen (as players and taggers write them)."""
    import mutagen
    from mutagen.flac import Picture

    if fmt == "mp3":
        from mutagen.id3 import APIC, ID3, TIT2, TXXX

        tags = ID3()
        tags.add(TIT2(encoding=3, text=title))
        tags.add(APIC(encoding=3, mime="image/png", type=3, desc="cover", data=picture))
        if text:
            tags.add(TXXX(encoding=3, desc="notes", text=text))
        tags.save(str(path))
        return
    if fmt == "m4a":
        from mutagen.mp4 import MP4, MP4Cover

        f = MP4(str(path))
        f["\xa9nam"] = [title + text]
        f["covr"] = [MP4Cover(picture, imageformat=MP4Cover.FORMAT_PNG)]
        f.save()
        return
    f = mutagen.File(str(path))
    if f is None or fmt in ("wav", "aiff"):
        return
    pic = Picture()
    pic.type, pic.mime, pic.data = 3, "image/png", picture
    if fmt == "flac":
        f["title"] = title + text
        f.add_picture(pic)
    else:  # Ogg Vorbis and Opus carry the picture base64-encoded in a comment
        import base64

        f["title"] = title + text
        f["metadata_block_picture"] = [base64.b64encode(pic.write()).decode()]
    f.save()


# ---- mutations -----------------------------------------------------------------------------------
def _bitflip(data: bytes, rng: np.random.Generator, seeds: dict[str, bytes]) -> bytes:
    buf = bytearray(data)
    n = int(rng.integers(1, 65))
    head = rng.random() < 0.5
    for _ in range(n):
        pos = int(rng.integers(0, min(4096, len(buf)) if head else len(buf)))
        buf[pos] ^= 1 << int(rng.integers(0, 8))
    return bytes(buf)


def _truncate(data: bytes, rng: np.random.Generator, seeds: dict[str, bytes]) -> bytes:
    choice = rng.random()
    if choice < 0.1:
        return b""
    if choice < 0.4:
        return data[: int(rng.integers(1, min(512, len(data))))]
    return data[: int(rng.integers(1, len(data)))]


_EXTREMES16 = (0, 1, 0xFFFF, 0x1000)
_EXTREMES32 = (0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 0x10000000)


def _field(data: bytes, rng: np.random.Generator, seeds: dict[str, bytes]) -> bytes:
    buf = bytearray(data)
    limit = min(len(buf) - 4, 128)
    if limit <= 0:
        return bytes(buf)
    pos = int(rng.integers(0, limit))
    big = rng.random() < 0.5
    if rng.random() < 0.5:
        value = int(rng.choice(_EXTREMES16))
        buf[pos : pos + 2] = value.to_bytes(2, "big" if big else "little")
    else:
        value = int(rng.choice(_EXTREMES32))
        buf[pos : pos + 4] = value.to_bytes(4, "big" if big else "little")
    return bytes(buf)


def _declared_size(data: bytes, rng: np.random.Generator, seeds: dict[str, bytes]) -> bytes:
    buf = bytearray(data)
    huge = int(rng.choice(_EXTREMES32[2:]))
    if buf[:4] in (b"RIFF", b"FORM"):
        order = "little" if buf[:4] == b"RIFF" else "big"
        spots = [4] + [i + 4 for i in range(12, min(len(buf) - 8, 4096)) if buf[i : i + 4] in (b"data", b"SSND")]
        pos = int(rng.choice(spots))
        buf[pos : pos + 4] = huge.to_bytes(4, order)
    elif buf[:3] == b"ID3":
        buf[6:10] = bytes([0x7F, 0x7F, 0x7F, 0x7F])  # syncsafe: a 256 MB tag
    elif buf[4:8] == b"ftyp":
        atoms = [i - 4 for i in range(4, min(len(buf) - 4, 65536)) if buf[i : i + 4] in (b"moov", b"mdat", b"trak")]
        pos = int(rng.choice(atoms)) if atoms else 0
        buf[pos : pos + 4] = huge.to_bytes(4, "big")
    elif buf[:4] == b"fLaC":
        buf[5:8] = (0xFFFFFF).to_bytes(3, "big")  # the first metadata block claims 16 MB
    elif buf[:4] == b"OggS" and len(buf) > 27:
        buf[26] = 255  # the first page claims 255 segments
    else:
        return _field(data, rng, seeds)
    return bytes(buf)


def _splice(data: bytes, rng: np.random.Generator, seeds: dict[str, bytes]) -> bytes:
    other = seeds[str(rng.choice(sorted(seeds)))]
    if rng.random() < 0.5:
        cut_a, cut_b = int(rng.integers(0, len(data))), int(rng.integers(0, len(other)))
        return data[:cut_a] + other[cut_b:]
    a = int(rng.integers(0, len(data) - 1))
    b = min(len(data), a + int(rng.integers(1, 8192)))
    return data[:b] + data[a:b] * int(rng.integers(2, 50)) + data[b:]


def _wrong_format(data: bytes, rng: np.random.Generator, seeds: dict[str, bytes]) -> bytes:
    choice = rng.random()
    if choice < 0.5:
        return seeds[str(rng.choice(sorted(seeds)))]  # written under this format's extension
    if choice < 0.75:
        return ("not audio at all\n" * int(rng.integers(1, 2000))).encode()
    return rng.integers(0, 256, int(rng.integers(1, 200_000)), dtype=np.uint8).tobytes()


# Byte mutations; "giant_tags" is made on disk instead (mutagen writes the tags): see _giant_tag_file.
MUTATORS: dict[str, Callable[[bytes, np.random.Generator, dict[str, bytes]], bytes]] = {
    "bitflip": _bitflip, "truncate": _truncate, "field": _field, "declared_size": _declared_size,
    "splice": _splice, "wrong_format": _wrong_format,
}  # fmt: skip


def _giant_tag_file(path: Path, fmt: str, seed: bytes, rng: np.random.Generator) -> None:
    path.write_bytes(seed)
    picture = _cover() + rng.integers(0, 256, int(rng.integers(2, 9)) << 20, dtype=np.uint8).tobytes()
    text = "x" * int(rng.integers(1, 3) << 20) if rng.random() < 0.5 else ""
    try:
        _tag(path, fmt, "Giant", picture, text)
    except Exception:  # a format without tags (wav, aiff): a giant junk chunk instead
        with open(path, "ab") as f:
            f.write(b"junk" + struct.pack("<I", len(picture)) + picture)


def make_cases(folder: Path, count: int, seed: int = 0, seeds: dict[str, bytes] | None = None) -> list[Case]:
    """``count`` mutated files under ``folder`` (seeded: the same cases every time), plus the special ones."""
    rng = np.random.default_rng(seed)
    seeds = seeds or make_seeds(folder / "_seeds")
    out: list[Case] = []
    cases = folder / "cases"
    cases.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        fmt = SEED_FORMATS[i % len(SEED_FORMATS)]
        kind = MUTATIONS[(i // len(SEED_FORMATS)) % len(MUTATIONS)]
        path = cases / f"{i:05d}-{kind}.{fmt}"
        if kind == "giant_tags":
            _giant_tag_file(path, fmt, seeds[fmt], rng)
        else:
            path.write_bytes(MUTATORS[kind](seeds[fmt], rng, seeds))
        out.append(Case(path, kind, fmt))
    shutil.rmtree(folder / "_seeds", ignore_errors=True)  # the intact seeds are not cases
    return out + special_cases(folder / "special", seeds)


def special_cases(folder: Path, seeds: dict[str, bytes]) -> list[Case]:
    """Files no byte mutation makes: pipes, devices, link loops, names from other systems."""
    folder.mkdir(parents=True, exist_ok=True)
    out: list[Case] = []

    def add(path: Path, kind: str) -> None:
        out.append(Case(path, kind))

    fifo = folder / "pipe.wav"
    os.mkfifo(fifo)
    add(fifo, "fifo")
    device = folder / "zero.mp3"
    try:
        os.mknod(device, 0o644 | 0o020000, os.makedev(1, 5))  # a character device that reads zeros forever
        add(device, "device")
    except (PermissionError, OSError):
        pass  # not root: no device nodes (the FIFO covers "not a regular file")
    (folder / "loop-a.flac").symlink_to(folder / "loop-b.flac")
    (folder / "loop-b.flac").symlink_to(folder / "loop-a.flac")
    add(folder / "loop-a.flac", "symlink_loop")
    add(folder / "loop-b.flac", "symlink_loop")
    (folder / "dangling.ogg").symlink_to(folder / "nowhere.ogg")
    add(folder / "dangling.ogg", "dangling_link")
    sub = folder / "sub"
    sub.mkdir()
    (sub / "up").symlink_to(folder, target_is_directory=True)  # a folder loop: never followed
    name = os.fsencode(folder) + b"/\xff\xfe-latin1-caf\xe9.wav"
    with open(name, "wb") as f:
        f.write(seeds["wav"])
    add(Path(os.fsdecode(name)), "non_utf8_name")
    long = folder / ("l" * 246 + ".flac")
    long.write_bytes(seeds["flac"])
    add(long, "long_name")
    odd = folder / "new\nline -dash.mp3"
    odd.write_bytes(seeds["mp3"])
    add(odd, "odd_name")
    return out
