"""A track's loudness: over time, small enough to draw (the strip under a track's title in the web app),
and as one integrated figure, to even out playback levels.

People find a place in a track by its shape (the quiet intro, the drop, the fade), so the track
page draws loudness rather than a list of numbers. The file is streamed in blocks (memory stays
bounded for a 3-hour file); each 50 ms frame's RMS level is taken, frames are pooled into
``points`` columns by their maximum (a short hit stays visible), and levels are mapped from dB to
0..1 over the strip's own ``range_db`` below its loudest column.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from tonearm.audio.decode import stream_blocks
from tonearm.errors import DecodeError

RATE = 8000  # loudness needs no more bandwidth than this
FRAME = RATE // 20  # 50 ms


def frame_levels(y: np.ndarray) -> np.ndarray:
    """RMS of each whole 50 ms frame of ``y`` (mono, at ``RATE``)."""
    n = y.size // FRAME
    if n == 0:
        return np.zeros(0, np.float32)
    frames = y[: n * FRAME].reshape(n, FRAME).astype(np.float32)
    return np.sqrt(np.mean(frames * frames, axis=1))


def strip(levels: np.ndarray, points: int, range_db: float = 45.0) -> np.ndarray:
    """Frame RMS levels pooled into ``points`` columns (maximum per column), as 0..1 on a dB scale."""
    if levels.size == 0:
        return np.zeros(0, np.float32)
    edges = np.linspace(0, levels.size, min(points, levels.size) + 1).astype(int)
    pooled = np.maximum.reduceat(levels, edges[:-1])
    db = 20 * np.log10(np.maximum(pooled, 1e-7))
    return np.clip(1 + (db - db.max()) / range_db, 0.0, 1.0).astype(np.float32)


def loudness_strip(path: str | os.PathLike[str], points: int = 400) -> tuple[float, np.ndarray]:
    """(duration in seconds, ``points`` loudness values in 0..1) of a whole audio file."""
    levels: list[np.ndarray] = []
    carry = np.zeros(0, np.float32)
    samples = 0
    for block in stream_blocks(path, RATE, block_seconds=60.0):
        samples += block.size
        y = np.concatenate([carry, block])
        usable = (y.size // FRAME) * FRAME
        levels.append(frame_levels(y[:usable]))
        carry = y[usable:]
    if carry.size:
        levels.append(np.sqrt(np.mean(carry * carry, keepdims=True)).astype(np.float32))
    return samples / RATE, strip(np.concatenate(levels) if levels else np.zeros(0, np.float32), points)


# ---- integrated loudness, for playback levelling ------------------------------------------------
# ITU-R BS.1770-4: K-weighting (a +4 dB shelf above ~1.5 kHz for the head, then a high-pass that
# discounts bass), 400 ms blocks every 100 ms, an absolute gate at -70 LUFS and a relative gate
# 10 LU under the loudness of the blocks above it. The standard's filter coefficients are given at
# 48 kHz, so the audio is decoded at that rate.
LEVEL_RATE = 48000
_K_WEIGHTING = np.array([
    [1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0, -1.69065929318241, 0.73248077421585],
    [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621],
])  # fmt: skip
# Each channel's power is measured and summed, as the standard says (a mono downmix would cancel
# out-of-phase sound: a wide or phase-flipped stereo track read up to 25 dB low). A mono file is
# counted as dual mono, both speakers carrying it (+3 dB), which is how it is played and what
# ReplayGain 2.0 taggers do; FFmpeg's ebur128 filter counts it as one speaker and reads 3 dB lower.
_DUAL_MONO = 2.0
LEVEL_MAX_SECONDS = 1200.0  # a 3-hour mix is judged by its first 20 minutes


def _lufs(mean_square: np.ndarray | float) -> np.ndarray:
    return -0.691 + 10 * np.log10(np.maximum(mean_square, 1e-20))


def integrated_loudness(blocks: Iterator[np.ndarray]) -> tuple[float | None, float]:
    """(integrated loudness in LUFS, sample peak) of blocks at ``LEVEL_RATE``, all mono or all
    ``(samples, channels)``; None when all is silence."""
    from scipy.signal import sosfilt

    step = LEVEL_RATE // 10
    state: np.ndarray | None = None
    carry: np.ndarray | None = None
    energies: list[np.ndarray] = []
    peak = 0.0
    for block in blocks:
        if not block.size:
            continue
        x = block.astype(np.float64).reshape(len(block), -1)  # (samples, channels)
        peak = max(peak, float(np.max(np.abs(x))))
        if state is None:
            state, carry = np.zeros((2, 2, x.shape[1])), np.zeros((0, x.shape[1]))
        weighted, state = sosfilt(_K_WEIGHTING, x, axis=0, zi=state)
        y = np.concatenate([carry, weighted])
        n = len(y) // step
        # per 100 ms step: the channels' mean squares summed (weight 1 for left and right; mono as both)
        power = np.mean(y[: n * step].reshape(n, step, -1) ** 2, axis=1).sum(axis=1)
        energies.append(power * (_DUAL_MONO if y.shape[1] == 1 else 1.0))
        carry = y[n * step :]
    e = np.concatenate(energies) if energies else np.zeros(0)
    if e.size < 4:  # under 400 ms: the whole clip is one block
        if carry is not None and len(carry):
            tail = np.mean(carry**2, axis=0).sum() * (_DUAL_MONO if carry.shape[1] == 1 else 1.0)
            e = np.concatenate([e, [tail]])
        gating = np.array([np.mean(e)]) if e.size else e
    else:
        gating = np.convolve(e, np.full(4, 0.25), mode="valid")
    loud = _lufs(gating)
    kept = loud > -70.0
    if not kept.any():
        return None, peak
    kept &= loud > _lufs(np.mean(gating[kept])) - 10.0
    return float(_lufs(np.mean(gating[kept]))), peak


def file_loudness(path: str | os.PathLike[str]) -> tuple[float | None, float]:
    """(integrated loudness in LUFS, sample peak) of an audio file, from at most its first 20 minutes.

    A file FFmpeg opens but gets no sound from (a damaged file under an audio name) is an error,
    not silence: silence would be kept as its level and never measured again."""
    blocks = stream_blocks(path, LEVEL_RATE, block_seconds=30.0, max_seconds=LEVEL_MAX_SECONDS, stereo=True)
    decoded = 0

    def counted() -> Iterator[np.ndarray]:
        nonlocal decoded
        for block in blocks:
            decoded += len(block)
            yield block

    result = integrated_loudness(counted())
    if not decoded:
        from tonearm.audio.integrity import inspect

        raise DecodeError(inspect(path).problem or "no sound could be decoded from it")
    return result
