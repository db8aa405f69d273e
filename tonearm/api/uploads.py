"""Uploaded audio: bounded size, sniffed content, a private temporary file, always removed.

The client's file name is never used as a path: only its extension is kept (decoders pick
formats by it), after checking it against the formats tonearm reads.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from fastapi import HTTPException, UploadFile

from tonearm.audio.decode import AUDIO_EXTENSIONS, probe
from tonearm.errors import DecodeError

_CHUNK = 1 << 20


@contextmanager
def saved_upload(upload: UploadFile, max_bytes: int) -> Iterator[str]:
    """Write ``upload`` to a temporary file (413 if too big, 415 if not audio); yield its path."""
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in AUDIO_EXTENSIONS:
        suffix = ".bin"  # let the decoder sniff the content
    fd, path = tempfile.mkstemp(prefix="tonearm-upload-", suffix=suffix)
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := upload.file.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise HTTPException(413, f"upload larger than the limit of {max_bytes // (1 << 20)} MiB")
                out.write(chunk)
        if size == 0:
            raise HTTPException(400, "the uploaded file is empty")
        try:
            info = probe(path)
        except DecodeError as exc:
            raise HTTPException(415, f"not audio tonearm can read: {exc}") from None
        if info.duration <= 0 and suffix == ".bin":
            raise HTTPException(415, "not audio tonearm can read")
        yield path
    finally:
        with suppress(OSError):
            os.unlink(path)
