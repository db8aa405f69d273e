"""Decode audio files to mono float32 at a requested sample rate.

soundfile (libsndfile) is tried first: it is fast and seeks sample-exactly in wav, flac,
ogg/vorbis, opus and mp3. Everything else (m4a/aac, webm, the audio track of mp4/mkv, and
files libsndfile rejects) goes through PyAV, which bundles FFmpeg's decoders. Every failure
becomes a :class:`~tonearm.errors.DecodeError` with a one-line reason, never a traceback.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from tonearm.errors import DecodeError

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = frozenset(
    {
        ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".m4b", ".aac",
        ".mp4", ".webm", ".mkv", ".mka", ".aif", ".aiff", ".wma",
    }
)  # fmt: skip


@dataclass(frozen=True)
class AudioInfo:
    """What a file declares about itself, read without decoding the samples."""

    duration: float
    sample_rate: int
    channels: int
    backend: str  # "soundfile" or "pyav"


def describe(exc: BaseException) -> str:
    """A plain-words reason for a failure to open or decode a file: no errno numbers, no paths, no reprs."""
    import errno as _errno

    code = getattr(exc, "errno", None)
    if isinstance(exc, PermissionError) or code in (_errno.EACCES, _errno.EPERM):
        return "permission denied"
    if isinstance(exc, FileNotFoundError) or code == _errno.ENOENT:
        return "file not found (moved or deleted during the run?)"
    if isinstance(exc, IsADirectoryError) or code == _errno.EISDIR:
        return "is a folder, not a file"
    if code == _errno.EIO:
        return "input/output error (a failing disk or a dropped network mount?)"
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, UnicodeDecodeError):
        return "text inside the file (a tag or a stream name) is not valid UTF-8"
    if isinstance(exc, EOFError):
        return "the file ends unexpectedly"
    text = getattr(exc, "strerror", None) or str(exc)
    text = re.sub(r"\[Errno -?\d+\]\s*", "", str(text))
    text = re.sub(r":\s*'[^']*'\s*$", "", text)  # PyAV appends the file name
    text = " ".join(text.split())
    return (text[:1].lower() + text[1:])[:160] if text else "unknown decoder error"


def _check_readable(path: Path) -> None:
    try:
        size = path.stat().st_size
        if size:
            with open(path, "rb") as f:
                f.read(1)
    except OSError as exc:
        raise DecodeError(describe(exc)) from exc
    if size == 0:
        raise DecodeError("empty file (0 bytes)")


def _sf_info(path: Path) -> AudioInfo | None:
    try:
        with sf.SoundFile(str(path)) as f:
            if f.frames <= 0 or f.samplerate <= 0:
                return None
            return AudioInfo(f.frames / f.samplerate, int(f.samplerate), int(f.channels), "soundfile")
    except Exception:  # libsndfile raises several types for unsupported input
        return None


def _av_open(path: Path):
    import av

    try:
        container = av.open(str(path))
    except Exception as exc:
        raise DecodeError(_open_failure(path, exc)) from exc
    audio = [s for s in container.streams if s.type == "audio"]
    if not audio:
        container.close()
        raise DecodeError("not audio (no audio stream found)")
    return container, audio[0]


def _open_failure(path: Path, exc: BaseException) -> str:
    """Why FFmpeg could not open a file, in words: what the bytes look like decides the sentence."""
    from tonearm.audio.integrity import Integrity, inspect

    if isinstance(exc, OSError) and not isinstance(exc, EOFError) and getattr(exc, "errno", None) in (1, 2, 5, 13, 21):
        return describe(exc)
    found: Integrity = inspect(path)
    if found.problem:
        return found.problem
    if found.kind == "text":
        return "not audio (a text file)"
    if found.kind == "unknown":
        return "not audio (unrecognised format)"
    return f"damaged {found.label} file ({describe(exc)})"


def _av_info(path: Path) -> AudioInfo:
    container, stream = _av_open(path)
    try:
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = 0.0
        codec = stream.codec_context  # None when the stream's codec cannot be set up (a damaged header)
        rate = int((codec.sample_rate if codec is not None else 0) or stream.rate or 0)
        channels = int((codec.channels if codec is not None else 0) or 1)
    finally:
        container.close()
    if rate <= 0:
        raise DecodeError(_open_failure(path, ValueError("no valid audio stream")))
    return AudioInfo(duration, rate, channels, "pyav")


def probe(path: str | os.PathLike[str]) -> AudioInfo:
    """Read duration, rate and channel count; raise DecodeError when the file is not audio."""
    p = Path(path)
    _check_readable(p)
    return _sf_info(p) or _av_info(p)


def _to_mono(data: np.ndarray) -> np.ndarray:
    if data.ndim == 2:
        data = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.ascontiguousarray(data, dtype=np.float32)


def _to_stereo(data: np.ndarray) -> np.ndarray:
    """Two channels as they are; more folded to two (front left and right plus the rest shared equally)."""
    if data.shape[1] > 2:
        rest = data[:, 2:].mean(axis=1, keepdims=True)
        data = data[:, :2] + rest
    return np.ascontiguousarray(data, dtype=np.float32)


def resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """High-quality resampling (soxr); a no-op when the rates match."""
    if sr_in == sr_out or y.size == 0:
        return y.astype(np.float32, copy=False)
    return soxr.resample(y, sr_in, sr_out, quality="HQ").astype(np.float32, copy=False)


def _sf_load(path: Path, sr: int, offset: float, duration: float | None) -> np.ndarray:
    with sf.SoundFile(str(path)) as f:
        native = int(f.samplerate)
        start = max(0, round(offset * native))
        if start:
            f.seek(min(start, max(f.frames - 1, 0)))
        n = -1 if duration is None else max(0, round(duration * native))
        data = f.read(n, dtype="float32", always_2d=True)
    return resample(_to_mono(data), native, sr)


def _av_load(path: Path, sr: int, offset: float, duration: float | None) -> np.ndarray:
    import av

    container, stream = _av_open(path)
    chunks: list[np.ndarray] = []
    want = None if duration is None else round(duration * sr)
    have = 0
    try:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)
        if offset > 0 and stream.time_base:
            container.seek(int(offset / stream.time_base), stream=stream, any_frame=False, backward=True)
        skip: int | None = None  # samples to drop before `offset`, known from the first frame's pts
        for frame in container.decode(stream):
            if skip is None:
                t0 = float(frame.pts * frame.time_base) if frame.pts is not None else 0.0
                skip = max(0, round((offset - t0) * sr)) if offset > 0 else 0
            for out in resampler.resample(frame):
                arr = out.to_ndarray().reshape(-1)
                if skip:
                    drop = min(skip, arr.size)
                    arr, skip = arr[drop:], skip - drop
                chunks.append(arr)
                have += arr.size
            if want is not None and have >= want:
                break
        else:
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except DecodeError:
        raise
    except Exception as exc:
        if not chunks:
            raise DecodeError(f"decoding failed ({describe(exc)})") from exc
        log.warning("%s: decoding stopped early (%s)", path, describe(exc))
    finally:
        container.close()
    y = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return (y if want is None else y[:want]).astype(np.float32, copy=False)


def load(path: str | os.PathLike[str], sr: int, offset: float = 0.0, duration: float | None = None) -> np.ndarray:
    """Decode ``duration`` seconds from ``offset`` (all of it if None) as mono float32 at ``sr``."""
    p = Path(path)
    _check_readable(p)
    if _sf_info(p) is not None:
        try:
            return _sf_load(p, sr, offset, duration)
        except Exception as exc:  # fall through to FFmpeg, which tolerates more damage
            log.debug("%s: soundfile failed (%s), trying PyAV", p, describe(exc))
    return _av_load(p, sr, offset, duration)


def stream_blocks(
    path: str | os.PathLike[str],
    sr: int,
    block_seconds: float = 60.0,
    max_seconds: float | None = None,
    stereo: bool = False,
) -> Iterator[np.ndarray]:
    """The whole file as float32 blocks of about ``block_seconds`` at ``sr``: bounded memory for any length.

    Blocks are mono, or with ``stereo`` ``(samples, 2)`` for a file of two or more channels (more
    are folded to two), which is what loudness needs: a mono downmix cancels out-of-phase sound.
    soundfile reads blocks sample-exactly; anything else streams through PyAV's decoder and
    resampler. At most ``max_seconds`` of audio are produced.
    """
    p = Path(path)
    _check_readable(p)
    limit = None if max_seconds is None else round(max_seconds * sr)
    produced = 0
    if _sf_info(p) is not None:
        try:
            with sf.SoundFile(str(p)) as f:
                native = int(f.samplerate)
                width = 2 if stereo and f.channels > 1 else 1
                step = max(1, round(block_seconds * native))
                resampler = None
                if native != sr:
                    resampler = soxr.ResampleStream(native, sr, width, dtype="float32", quality="HQ")
                while True:
                    data = f.read(step, dtype="float32", always_2d=True)
                    last = data.shape[0] < step
                    y = _to_stereo(data) if width == 2 else _to_mono(data)
                    if resampler is not None:
                        y = resampler.resample_chunk(y, last=last)
                    if limit is not None:
                        y = y[: max(0, limit - produced)]
                    if len(y):
                        produced += len(y)
                        yield y
                    if last or (limit is not None and produced >= limit):
                        return
        except DecodeError:
            raise
        except Exception as exc:  # fall through to FFmpeg, which tolerates more damage
            if produced:
                raise DecodeError(f"decoding failed part way ({describe(exc)})") from exc
            log.debug("%s: soundfile failed (%s), trying PyAV", p, describe(exc))
    import av

    container, stream = _av_open(p)
    try:
        width = 2 if stereo and (stream.codec_context.channels or 1) > 1 else 1
        resampler = av.AudioResampler(format="flt", layout="stereo" if width == 2 else "mono", rate=sr)
        want = max(1, round(block_seconds * sr))
        chunks: list[np.ndarray] = []
        held = 0

        def frames(out: Any) -> np.ndarray:  # packed "flt" is one row of interleaved samples
            return out.to_ndarray().reshape(-1, width) if width == 2 else out.to_ndarray().reshape(-1)

        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                arr = frames(out)
                chunks.append(arr)
                held += len(arr)
            if held >= want:
                y = np.concatenate(chunks)
                if limit is not None:
                    y = y[: max(0, limit - produced)]
                produced += len(y)
                chunks, held = [], 0
                yield y.astype(np.float32, copy=False)
                if limit is not None and produced >= limit:
                    return
        for out in resampler.resample(None):
            chunks.append(frames(out))
        if chunks:
            y = np.concatenate(chunks)
            if limit is not None:
                y = y[: max(0, limit - produced)]
            if len(y):
                yield y.astype(np.float32, copy=False)
    except DecodeError:
        raise
    except Exception as exc:
        raise DecodeError(f"decoding failed ({describe(exc)})") from exc
    finally:
        container.close()
