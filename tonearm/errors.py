"""Exceptions that carry a message meant for the user.

Everything a user can cause (a bad file, a bad filter, a missing track) raises a
``TonearmError`` subclass; the CLI prints its message on one line instead of a traceback.
"""

from __future__ import annotations

import re


class TonearmError(Exception):
    """Base class for errors whose message is shown to the user as-is."""


class DecodeError(TonearmError):
    """The file is not audio we can decode (empty, truncated, corrupt, wrong format)."""


class FilterError(TonearmError):
    """A ``--where`` expression is malformed or names an unknown field."""


class NotFoundError(TonearmError):
    """A track id or path that the library does not contain."""


class LibraryLockedError(TonearmError):
    """Another process holds the library's write lock."""


class StorageFaultError(TonearmError):
    """A write failed because of the machine, not the input: the disk is full or mounted read-only."""


class DiskFullError(StorageFaultError):
    """No space left where the library (or the media folder) lives."""


class ReadOnlyError(StorageFaultError):
    """The library lives on a read-only mount: it can be searched and served, not changed."""


class LibraryVersionError(TonearmError):
    """The library was written by a newer tonearm, whose format this one cannot read safely."""


# How a full or read-only disk shows through the layers below us: Python's errno, Rust's
# "(os error N)" (LanceDB), numpy's short write, PostgreSQL's "could not extend file".
_DISK_FULL_ERRNOS = (28, 122)  # ENOSPC, EDQUOT
_DISK_FULL_WORDS = ("no space left on device", "disk quota exceeded", "os error 28", "os error 122",
                    "could not extend file")  # fmt: skip
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")  # numpy's tofile/save when the disk fills
_READ_ONLY_WORDS = ("read-only file system", "os error 30")


def storage_fault(exc: BaseException, where: str = "") -> StorageFaultError | None:
    """The user-facing error for a failed write whose cause is the disk (full, read-only), else None.

    Why by message as well as errno: LanceDB and numpy report ENOSPC as RuntimeError or a short
    write, so the errno alone would miss most disk-full failures of an index run.
    """
    if isinstance(exc, StorageFaultError):
        return exc
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain and len(chain) < 8:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    for e in chain:
        errno = getattr(e, "errno", None)
        text = str(e).lower()
        place = f" at {where}" if where else ""
        if errno in _DISK_FULL_ERRNOS or any(w in text for w in _DISK_FULL_WORDS) or _SHORT_WRITE.search(text):
            return DiskFullError(f"disk full{place}")
        if errno == 30 or any(w in text for w in _READ_ONLY_WORDS):
            return ReadOnlyError(f"read-only file system{place}: the library can be searched and served, not changed")
    return None
