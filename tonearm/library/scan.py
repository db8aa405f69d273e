"""Find audio files under the user's folders and identify them."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tonearm.audio.decode import AUDIO_EXTENSIONS
from tonearm.store.identity import content_hash, track_id

__all__ = ["FileStat", "content_hash", "is_audio_path", "iter_audio_files", "track_id"]


@dataclass(frozen=True)
class FileStat:
    """A candidate file as seen on disk during a scan."""

    path: str
    size: int
    mtime_ns: int


def is_audio_path(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def iter_audio_files(roots: Iterable[str | os.PathLike[str]]) -> Iterator[FileStat]:
    """Yield audio files under ``roots`` (files or folders), recursively, sorted, without repeats.

    Hidden folders (``.git``, ``.Trash``) are skipped; symlinked folders are not followed, so a
    link cycle cannot trap the scan.
    """
    seen: set[str] = set()
    for root in roots:
        root_path = Path(root).expanduser().resolve()
        if root_path.is_file():
            candidates: Iterable[Path] = [root_path] if is_audio_path(root_path) else []
        else:
            candidates = _walk(root_path)
        for p in candidates:
            key = str(p)
            if key in seen:
                continue
            seen.add(key)
            try:
                st = p.stat()
            except OSError:
                continue
            yield FileStat(key, st.st_size, st.st_mtime_ns)


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and is_audio_path(name):
                yield Path(dirpath) / name
