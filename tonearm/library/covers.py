"""Cover pictures: embedded in the files' tags, or an image beside them; a drawn placeholder otherwise.

Players ask for covers constantly (every list row), so answers are cached: each (item, size) is
decoded and resized once and kept as a file in the library's cache folder, written atomically.
Embedded pictures come from ID3 ``APIC`` frames (front cover first), FLAC and Vorbis/Opus
``METADATA_BLOCK_PICTURE`` blocks, and MP4 ``covr`` atoms; beside the files, ``cover``,
``folder``, ``front`` or ``album`` with a ``.jpg``, ``.jpeg``, ``.png`` or ``.webp`` ending (any case).
"""

from __future__ import annotations

import base64
import colorsys
import hashlib
import io
import logging
import os
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

FOLDER_NAMES = ("cover", "folder", "front", "album")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")
MAX_SIZE = 1200  # larger requests are served at this size
MAX_SOURCE_BYTES = 32 << 20  # a picture bigger than this is ignored (a hostile or broken tag)


def embedded_picture(path: str) -> bytes | None:
    """The front cover (else the first picture) embedded in an audio file's tags."""
    try:
        import mutagen

        audio = mutagen.File(path)
    except Exception:  # unreadable tags never stop a cover lookup
        return None
    if audio is None:
        return None
    pictures: list[tuple[int, bytes]] = []
    tags = getattr(audio, "tags", None)
    if tags is not None and hasattr(tags, "getall"):  # ID3
        pictures += [(int(getattr(f, "type", 0)), f.data) for f in tags.getall("APIC")]
    pictures += [(int(p.type), p.data) for p in getattr(audio, "pictures", []) or []]  # FLAC
    if tags is not None and hasattr(tags, "get"):
        for blob in tags.get("metadata_block_picture", []) or []:  # Ogg Vorbis / Opus
            try:
                from mutagen.flac import Picture

                pic = Picture(base64.b64decode(blob))
                pictures.append((int(pic.type), pic.data))
            except Exception:
                continue
        for cover in tags.get("covr", []) or []:  # MP4
            pictures.append((3, bytes(cover)))
    pictures = [(kind, data) for kind, data in pictures if data and len(data) <= MAX_SOURCE_BYTES]
    if not pictures:
        return None
    pictures.sort(key=lambda p: p[0] != 3)  # type 3 = front cover
    return pictures[0][1]


def folder_picture(folder: str) -> str | None:
    """An image file named like a cover in ``folder`` (cover.jpg, Folder.PNG, ...)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    by_lower = {n.lower(): n for n in names}
    for stem in FOLDER_NAMES:
        for ext in IMAGE_EXTENSIONS:
            if stem + ext in by_lower:
                return os.path.join(folder, by_lower[stem + ext])
    return None


def find_cover(paths: Iterable[str]) -> bytes | None:
    """The first picture found for these tracks: embedded, else beside the file."""
    folders: list[str] = []
    for path in paths:
        data = embedded_picture(path)
        if data:
            return data
        folder = os.path.dirname(path)
        if folder not in folders:
            folders.append(folder)
    for folder in folders:
        image = folder_picture(folder)
        if image:
            try:
                if os.path.getsize(image) <= MAX_SOURCE_BYTES:
                    return Path(image).read_bytes()
            except OSError:
                continue
    return None


def placeholder(seed: str, size: int = 300) -> bytes:
    """A drawn record sleeve (PNG): a colour from ``seed`` with a record on it, the same for the same seed."""
    from PIL import Image, ImageDraw

    h = int(hashlib.sha1(seed.encode()).hexdigest()[:4], 16) / 0xFFFF
    r, g, b = (int(255 * c) for c in colorsys.hls_to_rgb(h, 0.55, 0.45))
    n = 300
    img = Image.new("RGB", (n, n), (r, g, b))
    draw = ImageDraw.Draw(img)
    draw.ellipse((40, 40, n - 40, n - 40), fill=(24, 24, 28))
    for k in range(60, 120, 14):  # grooves
        draw.ellipse((k, k, n - k, n - k), outline=(48, 48, 54), width=2)
    draw.ellipse((112, 112, n - 112, n - 112), fill=(r, g, b))
    draw.ellipse((144, 144, n - 144, n - 144), fill=(24, 24, 28))
    if size != n:
        img = img.resize((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue()


def resized(data: bytes, size: int | None) -> tuple[bytes, str]:
    """The picture at most ``size`` pixels on its longer side (JPEG, or PNG when it has transparency)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img.load()
        fmt = (img.format or "").upper()
        if size is None and fmt in ("JPEG", "PNG"):
            return data, "image/jpeg" if fmt == "JPEG" else "image/png"
        target = min(size or MAX_SIZE, MAX_SIZE)
        img.thumbnail((target, target), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        if img.mode in ("RGBA", "LA", "P") and fmt == "PNG":
            img.save(out, "PNG", optimize=True)
            return out.getvalue(), "image/png"
        img.convert("RGB").save(out, "JPEG", quality=88)
        return out.getvalue(), "image/jpeg"


class CoverCache:
    """Resized covers on disk: one file per (item, size, source stamp)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def get(self, item: str, size: int | None, paths: list[str]) -> tuple[bytes, str]:
        """(image bytes, content type) for an item whose tracks are ``paths``; a placeholder when none has art."""
        size = None if not size or size <= 0 else min(int(size), MAX_SIZE)
        stamp = hashlib.blake2b(
            "|".join(f"{p}:{_mtime(p)}" for p in paths[:8]).encode(), digest_size=6
        ).hexdigest()  # a retagged file or a new cover.jpg changes it
        name = f"{hashlib.blake2b(item.encode(), digest_size=8).hexdigest()}-{size or 0}-{stamp}"
        for ext, mime in ((".jpg", "image/jpeg"), (".png", "image/png")):
            cached = self.folder / (name + ext)
            if cached.is_file():
                try:
                    return cached.read_bytes(), mime
                except OSError:
                    break
        data = find_cover(paths)
        image, mime = (None, "image/png")
        if data:
            try:
                image, mime = resized(data, size)
            except Exception as exc:  # a broken embedded picture: fall back to the placeholder
                log.info("cover of %s unreadable (%s); drawing one", item, exc)
        if image is None:
            image, mime = placeholder(item, size or 300), "image/png"
        self._write(name + (".jpg" if mime == "image/jpeg" else ".png"), image)
        return image, mime

    def _write(self, name: str, data: bytes) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f".{name}.{os.getpid()}.tmp"
            tmp.write_bytes(data)
            tmp.replace(self.folder / name)
        except OSError:  # a read-only library still serves covers, just without the cache
            pass


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0
