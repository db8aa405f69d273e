"""Which parts of a file get analysed, so cost per track is bounded.

Short tracks are analysed whole. Longer ones (a 3-hour DJ mix, an audiobook) are analysed
through ``count`` windows of ``length`` seconds spread evenly between 5% and 95% of the
track: the analysed audio never exceeds ``max(full_max, count * length)`` seconds, and
windows are seeked to, not decoded through, so decoding cost is bounded too.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import numpy as np

from tonearm.audio.decode import AudioInfo, load, probe, resample
from tonearm.audio.integrity import inspect, missing_tolerance, truncation_reason
from tonearm.errors import DecodeError


@dataclass(frozen=True)
class WindowPolicy:
    """Bounded analysis windows for a track of a given duration."""

    full_max: float = 120.0
    count: int = 6
    length: float = 20.0

    def plan(self, duration: float) -> list[tuple[float, float]]:
        """Return ``(offset, length)`` windows in seconds for a track of ``duration`` seconds."""
        if duration <= self.full_max:
            return [(0.0, duration)]
        lo, hi = 0.05 * duration, 0.95 * duration - self.length
        starts = np.linspace(lo, max(lo, hi), self.count)
        return [(float(s), self.length) for s in starts]


# For lengths that are only estimates (no sample count in the header), decoding this much less
# than the estimate still counts as whole: bitrate-based estimates are that loose.
_ESTIMATE_RATIO = 0.9


@dataclass
class DecodedAudio:
    """Mono segments of one file at one sample rate, resampled on demand for each analyzer."""

    info: AudioInfo
    sample_rate: int
    segments: list[np.ndarray]
    offsets: list[float]
    _cache: dict[int, list[np.ndarray]] = field(default_factory=dict, repr=False)

    @property
    def analysed_seconds(self) -> float:
        return sum(s.size for s in self.segments) / self.sample_rate

    def digest(self) -> str:
        """BLAKE2b-128 of the decoded samples, their rate and where the windows start.

        Why: a file whose tags were rewritten (MusicBrainz Picard, beets) has new bytes but the same
        audio; equal digests prove every view computed from the audio would come out the same."""
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{self.sample_rate}:{self.offsets}".encode())
        for segment in self.segments:
            h.update(np.ascontiguousarray(segment, dtype=np.float32).tobytes())
        return h.hexdigest()

    def at(self, sr: int) -> list[np.ndarray]:
        """The segments at sample rate ``sr``."""
        if sr == self.sample_rate:
            return self.segments
        if sr not in self._cache:
            self._cache[sr] = [resample(s, self.sample_rate, sr) for s in self.segments]
        return self._cache[sr]


def load_for_analysis(path: str | os.PathLike[str], sr: int, policy: WindowPolicy | None = None) -> DecodedAudio:
    """Decode the windows that ``policy`` selects; raise DecodeError for empty or cut-off files.

    A file is refused when its container promises more audio than decodes (a half-finished
    download or copy, see :mod:`tonearm.audio.integrity`): by the header alone when it shows
    the cut, else by comparing what each window decodes with the declared length. Long files
    are decoded only in windows, so their last second is probed too.
    """
    policy = policy or WindowPolicy()
    found = inspect(path)
    if found.problem:
        raise DecodeError(found.problem)
    if found.kind == "text":  # said before a decoder tries it: mpg123 prints its complaints on our stderr
        raise DecodeError("not audio (a text file)")
    info = probe(path)
    if info.duration <= 0:
        # Some containers do not declare a length: decode a bounded prefix and judge by that.
        y = load(path, sr, 0.0, policy.full_max)
        if y.size == 0:
            raise DecodeError("no audio samples could be decoded")
        info = AudioInfo(y.size / sr, info.sample_rate, info.channels, info.backend)
        return DecodedAudio(info, sr, [y], [0.0])
    declared = found.declared_seconds if found.exact and found.declared_seconds else info.duration
    exact = found.exact and bool(found.declared_seconds)
    segments, offsets = [], []
    for offset, length in policy.plan(info.duration):
        y = load(path, sr, offset, length)
        got = y.size / sr
        expected = min(length, max(0.0, declared - offset))
        if _short(expected, got, declared, exact):
            raise DecodeError(truncation_reason(declared, offset + got))
        segments.append(y)
        offsets.append(offset)
    if not any(s.size for s in segments):
        raise DecodeError("no audio samples could be decoded")
    last_end = offsets[-1] + segments[-1].size / sr
    if declared - last_end > missing_tolerance(declared):
        _probe_tail(path, sr, declared, exact)
    return DecodedAudio(info, sr, segments, offsets)


def _short(expected: float, got: float, declared: float, exact: bool) -> bool:
    if exact:
        return expected - got > missing_tolerance(declared)
    return got < _ESTIMATE_RATIO * expected - 0.25


def _probe_tail(path: str | os.PathLike[str], sr: int, declared: float, exact: bool) -> None:
    """Decode one second just before the declared end; if it is not there, find where the audio stops."""
    probe_len = 1.0
    if load(path, sr, max(0.0, declared - 1.5), probe_len).size / sr >= 0.5 * probe_len:
        return
    if not exact and load(path, sr, max(0.0, 0.9 * declared - 1.0), probe_len).size / sr >= 0.5 * probe_len:
        return  # an estimated length overshoots; the audio reaches close enough to it
    lo, hi = 0.0, declared  # audio exists at lo, not at hi: bisect to about a second
    while hi - lo > 1.0:
        mid = (lo + hi) / 2
        if load(path, sr, mid, 0.25).size > 0:
            lo = mid
        else:
            hi = mid
    raise DecodeError(truncation_reason(declared, lo, approximate=True))
