"""Which parts of a file get analysed, so cost per track is bounded.

Short tracks are analysed whole. Longer ones (a 3-hour DJ mix, an audiobook) are analysed
through ``count`` windows of ``length`` seconds spread evenly between 5% and 95% of the
track: the analysed audio never exceeds ``max(full_max, count * length)`` seconds, and
windows are seeked to, not decoded through, so decoding cost is bounded too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from tonearm.audio.decode import AudioInfo, load, probe, resample
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


# Shorter than this fraction of the declared length means the file is cut off.
_TRUNCATION_RATIO = 0.9


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

    def at(self, sr: int) -> list[np.ndarray]:
        """The segments at sample rate ``sr``."""
        if sr == self.sample_rate:
            return self.segments
        if sr not in self._cache:
            self._cache[sr] = [resample(s, self.sample_rate, sr) for s in self.segments]
        return self._cache[sr]


def load_for_analysis(path: str | os.PathLike[str], sr: int, policy: WindowPolicy | None = None) -> DecodedAudio:
    """Decode the windows that ``policy`` selects; raise DecodeError for empty or cut-off files."""
    policy = policy or WindowPolicy()
    info = probe(path)
    if info.duration <= 0:
        # Some containers do not declare a length: decode a bounded prefix and judge by that.
        y = load(path, sr, 0.0, policy.full_max)
        if y.size == 0:
            raise DecodeError("no audio samples could be decoded")
        info = AudioInfo(y.size / sr, info.sample_rate, info.channels, info.backend)
        return DecodedAudio(info, sr, [y], [0.0])
    segments, offsets = [], []
    for offset, length in policy.plan(info.duration):
        y = load(path, sr, offset, length)
        got = y.size / sr
        if got < _TRUNCATION_RATIO * length - 0.25:
            raise DecodeError(f"truncated or corrupt: decoded {offset + got:.1f} s of {info.duration:.1f} s declared")
        segments.append(y)
        offsets.append(offset)
    if not any(s.size for s in segments):
        raise DecodeError("no audio samples could be decoded")
    return DecodedAudio(info, sr, segments, offsets)
