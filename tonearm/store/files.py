"""Atomic file replacement for the small files a folder library keeps beside its tables.

Write to a hidden temporary name, fsync, rename over the target: a reader (or a crash) sees the
old file or the new one, never a torn one. A failed write (disk full) removes its temporary file,
so nothing half-written is left behind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Replace ``path`` with what ``write`` puts into the open file, all or nothing."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def fsync_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically."""
    atomic_write(path, lambda f: f.write(data))


def save_npy(path: Path, arr: np.ndarray) -> None:
    """Replace ``path`` with ``arr`` in .npy format atomically."""
    atomic_write(path, lambda f: np.save(f, arr))


def is_temporary(name: str) -> bool:
    """Whether a file name is one of ``atomic_write``'s temporaries (left only by a killed process)."""
    return name.startswith(".") and name.endswith(".tmp")
