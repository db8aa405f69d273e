"""Find audio files under the user's folders and identify them."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tonearm.audio.decode import AUDIO_EXTENSIONS, describe
from tonearm.store.identity import content_hash, track_id

__all__ = ["FileStat", "content_hash", "is_audio_path", "iter_audio_files", "track_id"]


@dataclass(frozen=True)
class FileStat:
    """A candidate file as seen on disk during a scan."""

    path: str
    size: int
    mtime_ns: int
    problem: str | None = None  # why it cannot be read at all (a pipe, a link loop): failed without analysis


def under_roots(path: str, roots: Sequence[str]) -> bool:
    """Whether ``path`` is one of ``roots`` or inside one of them (absolute, normalised paths)."""
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


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
            candidates: Iterable[Path | FileStat] = [root_path] if is_audio_path(root_path) else []
        else:
            candidates = _walk(root_path)
        for p in candidates:
            if isinstance(p, FileStat):
                yield p
                continue
            key = str(p)
            if key in seen:
                continue
            seen.add(key)
            try:
                key.encode("utf-8")
            except UnicodeEncodeError:  # bytes from another system's encoding: a library stores UTF-8 text
                shown = key.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                yield FileStat(shown, 0, 0, "the file name is not valid UTF-8 (rename the file to index it)")
                continue
            yield _stat(p, key)


def _stat(p: Path, key: str) -> FileStat:
    """The file's size and time, or the reason it is not a file tonearm can read."""
    try:
        st = p.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return FileStat(key, 0, 0, "a symbolic link loop")
        if exc.errno == errno.ENOENT and p.is_symlink():
            return FileStat(key, 0, 0, "a broken symbolic link (its target is gone)")
        return FileStat(key, 0, 0, describe(exc))
    if not stat.S_ISREG(st.st_mode):
        kind = ("a named pipe" if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
                or stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else "a folder")  # fmt: skip
        return FileStat(key, 0, st.st_mtime_ns, f"not a regular file ({kind})")
    return FileStat(key, st.st_size, st.st_mtime_ns)


def _walk(root: Path) -> Iterator[Path | FileStat]:
    unreadable: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable.append):
        while unreadable:  # a folder os.walk could not list: failed, not silently skipped
            exc = unreadable.pop()
            yield FileStat(str(exc.filename or dirpath), 0, 0, f"folder cannot be read ({describe(exc)})")
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and is_audio_path(name):
                yield Path(dirpath) / name
    for exc in unreadable:
        yield FileStat(str(exc.filename or root), 0, 0, f"folder cannot be read ({describe(exc)})")
