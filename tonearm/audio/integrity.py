"""Is a file whole? Cheap container-level checks for half-finished downloads and copies.

Decoders are forgiving: libsndfile reports a WAV cut to a seventh of its length as a short,
valid file, and FFmpeg happily decodes the first seconds of a truncated MP3. A truncated
file indexed as a normal track is worse than a failure: it has no words, a wrong duration,
and it sits next to the file it was cut from in every ``similar`` list. So before decoding,
the container's own promise is read from its header (no samples decoded):

* WAV / AIFF: the size of the sample chunk against the bytes present;
* FLAC: the total sample count in STREAMINFO (checked against what decodes);
* Ogg (Vorbis, Opus, FLAC): the last page must be complete and marked end-of-stream;
* MP4 / M4A: every top-level box must fit in the file, and the index (``moov``) must exist;
* MP3: a Xing/Info/VBRI header's frame and byte counts;
* Matroska / WebM: the Segment's declared size.

``inspect`` returns what the header declares (and whether that length is exact, i.e. a count
written by the encoder rather than an estimate from the bitrate) and, when the header alone
shows the file is cut, the one-line reason. It never raises for damaged input.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

_READ = 1 << 16


@dataclass(frozen=True)
class Integrity:
    """What a file's container says about its own length."""

    kind: str  # wav, aiff, flac, ogg, mp4, mp3, matroska, asf, adts, text, unknown
    declared_seconds: float | None = None
    exact: bool = False  # the length is a count the encoder wrote, not a bitrate estimate
    problem: str | None = None  # set when the header alone shows the file is cut off

    @property
    def label(self) -> str:
        return _LABELS.get(self.kind, self.kind.upper())


_LABELS = {"wav": "WAV", "aiff": "AIFF", "flac": "FLAC", "ogg": "Ogg", "mp4": "MP4/M4A", "mp3": "MP3",
           "matroska": "Matroska/WebM", "asf": "WMA", "adts": "AAC"}  # fmt: skip


def missing_tolerance(declared: float) -> float:
    """Seconds that may be missing before a file counts as truncated: 2% of it, at least 0.2 s, at most 1 s.

    Encoder priming and padding differ by tens of milliseconds between decoders; a cut-off
    download misses far more.
    """
    return max(0.2, min(1.0, 0.02 * declared))


def truncation_reason(declared: float, decodable: float, approximate: bool = False) -> str:
    about = "about " if approximate else ""
    return f"truncated: header says {declared:.1f} s, {about}{max(0.0, decodable):.1f} s decodable"


def sniff(head: bytes) -> str:
    """The container kind from a file's first bytes (extension ignored: names lie)."""
    if head[:4] in (b"RIFF", b"RIFX") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:16] == b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c":
        return "asf"
    if head[:3] == b"ID3":
        return "mp3"
    if _frames_chain(head, _mpeg_frame_len):
        return "mp3"
    if _frames_chain(head, _adts_frame_len):
        return "adts"
    if _looks_like_text(head):
        return "text"
    return "unknown"


def _mpeg_frame_len(h: bytes) -> int:
    """Length in bytes of the MPEG audio frame whose header is ``h`` (0 if ``h`` is not one)."""
    if len(h) < 4 or h[0] != 0xFF or h[1] & 0xE0 != 0xE0:
        return 0
    version, layer = (h[1] >> 3) & 3, (h[1] >> 1) & 3
    bitrate_idx, rate_idx, padding = h[2] >> 4, (h[2] >> 2) & 3, (h[2] >> 1) & 1
    if version == 1 or layer != 1 or bitrate_idx in (0, 15) or rate_idx == 3:
        return 0
    kbps = _MP3_KBPS[(3, 3) if version == 3 else (2, 3)][bitrate_idx]
    rate = _MP3_RATES[version][rate_idx]
    return (144 if version == 3 else 72) * kbps * 1000 // rate + padding


def _adts_frame_len(h: bytes) -> int:
    if len(h) < 7 or h[0] != 0xFF or h[1] & 0xF6 != 0xF0:
        return 0
    return ((h[3] & 0x03) << 11) | (h[4] << 3) | (h[5] >> 5)


def _frames_chain(head: bytes, frame_len, count: int = 3) -> bool:
    """True when ``count`` frames follow each other from the start (random bytes almost never do)."""
    pos = 0
    for _ in range(count):
        n = frame_len(head[pos : pos + 7])
        if n < 7:
            return False
        pos += n
        if pos + 7 > len(head):
            return True  # a file shorter than three frames: what there is is consistent
    return True


def _looks_like_text(head: bytes) -> bool:
    sample = head[:4096]
    if not sample or b"\x00" in sample:
        return False
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at the end of the sample is still text.
        try:
            text = sample[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.97 * len(text)


def inspect(path: str | os.PathLike[str]) -> Integrity:
    """Read the container's promise about its length; flag files whose header shows they are cut."""
    p = Path(path)
    try:
        size = p.stat().st_size
        with open(p, "rb") as f:
            head = f.read(_READ)
            kind = sniff(head)
            checker = _CHECKERS.get(kind)
            if checker is None:
                return Integrity(kind)
            return checker(f, head, size)
    except (OSError, struct.error, ValueError, IndexError, ZeroDivisionError):
        return Integrity("unknown")


# ---- WAV / AIFF -------------------------------------------------------------------------------
def _riff_chunks(f, start: int, size: int, big_endian: bool):
    """(id, declared size, data offset) of each chunk from ``start``; stops at the end of the file."""
    fmt = ">I" if big_endian else "<I"
    pos = start
    while pos + 8 <= size:
        f.seek(pos)
        header = f.read(8)
        if len(header) < 8:
            return
        cid, csize = header[:4], struct.unpack(fmt, header[4:])[0]
        yield cid, csize, pos + 8
        pos += 8 + csize + (csize & 1)


def _check_wav(f, head: bytes, size: int) -> Integrity:
    big = head[:4] == b"RIFX"
    byte_rate = 0
    for cid, csize, data_at in _riff_chunks(f, 12, size, big):
        if cid == b"fmt ":
            f.seek(data_at)
            fmt = f.read(16)
            if len(fmt) < 16:
                return Integrity("wav", problem="truncated: the file ends inside its header")
            byte_rate = struct.unpack(">I" if big else "<I", fmt[8:12])[0]
        elif cid == b"data":
            if not byte_rate:
                return Integrity("wav")
            if csize in (0, 0xFFFFFFFF):  # a stream writer that never filled in the size
                return Integrity("wav", (size - data_at) / byte_rate)
            declared = csize / byte_rate
            present = min(csize, size - data_at) / byte_rate
            if declared - present > missing_tolerance(declared):
                return Integrity("wav", declared, True, truncation_reason(declared, present))
            return Integrity("wav", declared, True)
    if byte_rate:
        return Integrity("wav", problem="truncated: the file ends before its audio data")
    return Integrity("wav", problem="truncated: the file ends inside its header")


def _extended80(b: bytes) -> float:
    """IEEE 754 80-bit extended float (AIFF sample rates)."""
    exponent = struct.unpack(">H", b[:2])[0] & 0x7FFF
    mantissa = struct.unpack(">Q", b[2:10])[0]
    if exponent == 0 and mantissa == 0:
        return 0.0
    return mantissa * 2.0 ** (exponent - 16383 - 63)


def _check_aiff(f, head: bytes, size: int) -> Integrity:
    frames = rate = frame_bytes = 0
    for cid, csize, data_at in _riff_chunks(f, 12, size, True):
        if cid == b"COMM":
            f.seek(data_at)
            comm = f.read(18)
            if len(comm) < 18:
                return Integrity("aiff", problem="truncated: the file ends inside its header")
            channels, frames, bits = struct.unpack(">HIH", comm[:8])
            rate = _extended80(comm[8:18])
            frame_bytes = channels * ((bits + 7) // 8)
        elif cid == b"SSND" and rate > 0 and frame_bytes:
            declared = frames / rate
            present_frames = max(0, min(csize, size - data_at) - 8) // frame_bytes
            present = min(frames, present_frames) / rate
            if declared - present > missing_tolerance(declared):
                return Integrity("aiff", declared, True, truncation_reason(declared, present))
            return Integrity("aiff", declared, True)
    if rate > 0:
        declared = frames / rate
        return Integrity("aiff", declared, True, truncation_reason(declared, 0.0) if frames else None)
    return Integrity("aiff")


# ---- FLAC ------------------------------------------------------------------------------------------
def _check_flac(f, head: bytes, size: int) -> Integrity:
    # STREAMINFO is always the first metadata block: 4-byte block header, then 34 bytes.
    info = head[8:42]
    if len(info) < 18:
        return Integrity("flac", problem="truncated: the file ends inside its header")
    packed = int.from_bytes(info[10:18], "big")
    rate = packed >> 44
    total = packed & ((1 << 36) - 1)
    if rate <= 0 or total == 0:  # 0 = "unknown" (a stream encoder)
        return Integrity("flac")
    return Integrity("flac", total / rate, True)


# ---- Ogg ----------------------------------------------------------------------------------------------
def _ogg_rate(head: bytes) -> tuple[int, int]:
    """(granule rate, pre-skip) from the first packet of the first stream."""
    if len(head) < 27:
        return 0, 0
    body = 27 + head[26]
    packet = head[body : body + 64]
    if packet[:7] == b"\x01vorbis" and len(packet) >= 16:
        return struct.unpack("<I", packet[12:16])[0], 0
    if packet[:8] == b"OpusHead" and len(packet) >= 12:
        return 48000, struct.unpack("<H", packet[10:12])[0]
    if packet[:5] == b"\x7fFLAC" and len(packet) >= 30:
        return int.from_bytes(packet[27:30], "big") >> 4, 0
    return 0, 0


def _check_ogg(f, head: bytes, size: int) -> Integrity:
    rate, preskip = _ogg_rate(head)
    tail_at = max(0, size - _READ)
    f.seek(tail_at)
    tail = f.read(_READ)
    last = None  # (granule, flags) of the last complete page
    pos = tail.find(b"OggS")
    cut_inside_page = False
    while pos >= 0:
        if pos + 27 > len(tail):
            cut_inside_page = True
            break
        nseg = tail[pos + 26]
        if pos + 27 + nseg > len(tail):
            cut_inside_page = True
            break
        body = sum(tail[pos + 27 : pos + 27 + nseg])
        end = pos + 27 + nseg + body
        if end > len(tail):
            cut_inside_page = True
            break
        flags = tail[pos + 5]
        granule = struct.unpack("<q", tail[pos + 6 : pos + 14])[0]
        last = (granule, flags)
        nxt = tail.find(b"OggS", end)
        if nxt != end and nxt >= 0:  # garbage between pages: resync on the next capture pattern
            pos = nxt
            continue
        pos = nxt
    present = None
    if last is not None and rate > 0 and last[0] >= 0:
        present = max(0.0, (last[0] - preskip) / rate)
    if cut_inside_page or last is None or not last[1] & 0x04:
        have = f"{present:.1f} s decodable" if present is not None else "its end is missing"
        return Integrity("ogg", present, False, f"truncated: the Ogg stream stops before its end marker ({have})")
    return Integrity("ogg", present, present is not None)


# ---- MP4 / M4A ------------------------------------------------------------------------------------
def _mp4_boxes(f, start: int, end: int):
    pos = start
    while pos + 8 <= end:
        f.seek(pos)
        header = f.read(16)
        if len(header) < 8:
            return
        bsize, btype = struct.unpack(">I", header[:4])[0], header[4:8]
        hdr = 8
        if bsize == 1:
            if len(header) < 16:
                yield btype, pos, None, hdr
                return
            bsize, hdr = struct.unpack(">Q", header[8:16])[0], 16
        elif bsize == 0:
            bsize = end - pos
        if bsize < hdr:
            yield btype, pos, None, hdr
            return
        yield btype, pos, bsize, hdr
        pos += bsize


def _mvhd_seconds(f, moov_at: int, moov_size: int) -> float | None:
    for btype, pos, bsize, hdr in _mp4_boxes(f, moov_at + 8, moov_at + moov_size):
        if btype == b"mvhd" and bsize:
            f.seek(pos + hdr)
            body = f.read(32)
            if len(body) < 20:
                return None
            if body[0] == 1:
                timescale, duration = struct.unpack(">IQ", body[20:32])
            else:
                timescale, duration = struct.unpack(">II", body[12:20])
            return duration / timescale if timescale else None
    return None


def _check_mp4(f, head: bytes, size: int) -> Integrity:
    declared = None
    moov = False
    for btype, pos, bsize, _hdr in _mp4_boxes(f, 0, size):
        if bsize is None:
            return Integrity("mp4", problem="truncated: the file ends inside a box header")
        if btype == b"moov":
            moov = True
            if pos + bsize <= size:
                declared = _mvhd_seconds(f, pos, bsize)
        if pos + bsize > size:
            if btype == b"mdat" and declared:
                present = declared * max(0, size - pos) / bsize
                return Integrity("mp4", declared, True, truncation_reason(declared, present, approximate=True))
            if btype == b"mdat" and not moov:
                return Integrity("mp4", problem="truncated: the file ends inside its audio data and its index "
                                                "(moov) is missing; nothing is decodable")  # fmt: skip
            return Integrity("mp4", declared, False, f"truncated: the file ends inside its '{_name(btype)}' box")
    if not moov:
        return Integrity("mp4", problem="incomplete: the file has no index (moov box); a half-finished download?")
    return Integrity("mp4", declared, declared is not None)


def _name(btype: bytes) -> str:
    return btype.decode("latin-1") if all(32 <= c < 127 for c in btype) else btype.hex()


# ---- MP3 ---------------------------------------------------------------------------------------------------
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_MP3_KBPS = {
    (3, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1 layer III
    (2, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2/2.5 layer III
}


def _check_mp3(f, head: bytes, size: int) -> Integrity:
    start = 0
    if head[:3] == b"ID3" and len(head) >= 10:
        tag = ((head[6] & 0x7F) << 21) | ((head[7] & 0x7F) << 14) | ((head[8] & 0x7F) << 7) | (head[9] & 0x7F)
        start = 10 + tag + (10 if head[5] & 0x10 else 0)
    f.seek(start)
    frame = f.read(4096)
    if len(frame) < 4:
        return Integrity("mp3", problem="truncated: the file ends before its first audio frame")
    sync = frame.find(b"\xff")
    while 0 <= sync < len(frame) - 4 and frame[sync + 1] & 0xE0 != 0xE0:
        sync = frame.find(b"\xff", sync + 1)
    if sync < 0 or sync >= len(frame) - 4:
        return Integrity("mp3")
    h = frame[sync : sync + 4]
    version, layer = (h[1] >> 3) & 3, (h[1] >> 1) & 3
    rate_idx, mono = (h[2] >> 2) & 3, (h[3] >> 6) == 3
    if layer != 1 or version == 1 or rate_idx == 3:  # layer III only
        return Integrity("mp3")
    rate = _MP3_RATES[version][rate_idx]
    samples = 1152 if version == 3 else 576
    side = (17 if mono else 32) if version == 3 else (9 if mono else 17)
    body = frame[sync + 4 :]
    frames = nbytes = None
    for offset in (side, 32):  # Xing/Info sit after the side info; VBRI at a fixed 32 bytes
        tag = body[offset : offset + 4]
        if tag in (b"Xing", b"Info"):
            flags = struct.unpack(">I", body[offset + 4 : offset + 8])[0]
            at = offset + 8
            if flags & 1:
                frames = struct.unpack(">I", body[at : at + 4])[0]
                at += 4
            if flags & 2:
                nbytes = struct.unpack(">I", body[at : at + 4])[0]
            break
        if tag == b"VBRI":
            nbytes, frames = struct.unpack(">II", body[offset + 10 : offset + 18])
            break
    if not frames:
        return Integrity("mp3")
    declared = frames * samples / rate
    if nbytes:
        f.seek(max(0, size - 128))
        id3v1 = 128 if f.read(3) == b"TAG" else 0
        present_bytes = size - start - sync - id3v1
        if present_bytes < nbytes:
            present = declared * present_bytes / nbytes
            if declared - present > missing_tolerance(declared):
                return Integrity("mp3", declared, True, truncation_reason(declared, present, approximate=True))
    return Integrity("mp3", declared, True)


# ---- Matroska / WebM -------------------------------------------------------------------------------------------
def _vint(buf: bytes, pos: int, keep_marker: bool) -> tuple[int, int]:
    first = buf[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        raise ValueError("bad EBML length")
    value = first if keep_marker else first & (0xFF >> length)
    for b in buf[pos + 1 : pos + length]:
        value = (value << 8) | b
    return value, pos + length


def _check_matroska(f, head: bytes, size: int) -> Integrity:
    _, pos = _vint(head, 0, True)  # EBML header id
    ebml_size, pos = _vint(head, pos, False)
    pos += ebml_size
    seg_id, pos = _vint(head, pos, True)
    if seg_id != 0x18538067:
        return Integrity("matroska")
    marker = head[pos]
    seg_size, data_at = _vint(head, pos, False)
    length = data_at - pos
    if seg_size == (1 << (7 * length)) - 1 or not marker:  # "unknown size": a live recording
        return Integrity("matroska")
    if data_at + seg_size > size:
        share = 100.0 * (size - data_at) / seg_size
        return Integrity("matroska", problem=f"truncated: the file holds {share:.0f}% of the data its header declares")
    return Integrity("matroska")


_CHECKERS = {
    "wav": _check_wav, "aiff": _check_aiff, "flac": _check_flac, "ogg": _check_ogg, "mp4": _check_mp4,
    "mp3": _check_mp3, "matroska": _check_matroska,
}  # fmt: skip
