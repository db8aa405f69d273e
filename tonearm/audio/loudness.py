"""A track's loudness over time, small enough to draw: the strip under a track's title in the web app.

People find a place in a track by its shape (the quiet intro, the drop, the fade), so the track
page draws loudness rather than a list of numbers. The file is streamed in blocks (memory stays
bounded for a 3-hour file); each 50 ms frame's RMS level is taken, frames are pooled into
``points`` columns by their maximum (a short hit stays visible), and levels are mapped from dB to
0..1 over the strip's own ``range_db`` below its loudest column.
"""

from __future__ import annotations

import os

import numpy as np

from tonearm.audio.decode import stream_blocks

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
