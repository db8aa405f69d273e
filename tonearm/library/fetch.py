"""Adding audio from the web: yt-dlp downloads into the library's media folder, with metadata.

yt-dlp handles video sites and direct media links alike (its generic extractor also reads
plain pages with <audio>/<video> tags). Each download keeps the best audio-only stream when
there is one, gets a safe ASCII file name, resumes from its ``.part`` file after an interruption
(HTTP range requests), and is checked by decoding: anything that is not audio or video is
deleted and reported. The source metadata (URL, title, uploader, date, duration, description,
thumbnail) goes into a ``<file>.json`` sidecar, so the indexer (and the words view) reads it
like any user's sidecar. Added URLs are remembered in the library: adding one again is a no-op.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tonearm import __version__
from tonearm.audio.decode import probe
from tonearm.errors import DecodeError, StorageFaultError, TonearmError, storage_fault
from tonearm.store.base import Store

log = logging.getLogger(__name__)

USER_AGENT = f"tonearm/{__version__} (+offline music and audio search; self-hosted)"
SOURCES_META = "url_sources"
_SIDECAR_KEYS = ("title", "uploader", "channel", "upload_date", "duration", "description", "thumbnail", "webpage_url")


@dataclass
class FetchSettings:
    media_dir: Path
    rate_limit: int | None = None  # bytes per second per download
    concurrency: int = 2
    max_filesize: int = 2 << 30
    timeout: float = 30.0
    retries: int = 5


@dataclass
class Fetched:
    url: str
    path: str | None = None
    reason: str | None = None  # why it failed
    skipped: bool = False  # added before
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.path is not None and self.reason is None


class _QuietLogger:
    def debug(self, msg: str) -> None:
        pass

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def error(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()).replace("ERROR: ", "").replace("[generic] ", "")
    return text[:240] or type(exc).__name__


def download(url: str, settings: FetchSettings, extra_meta: dict[str, Any] | None = None) -> Fetched:
    """Download one URL's best audio; never raises for a bad URL (the reason is returned)."""
    try:
        import yt_dlp
    except ImportError:
        return Fetched(url, reason="yt-dlp is not installed: pip install yt-dlp")
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    opts = {
        "format": "bestaudio/best",
        "outtmpl": str(settings.media_dir / "%(title).60B-%(id).40B.%(ext)s"),
        "restrictfilenames": True,
        "noplaylist": True,
        "continuedl": True,
        "retries": settings.retries,
        "fragment_retries": settings.retries,
        "socket_timeout": settings.timeout,
        "max_filesize": settings.max_filesize,
        "ratelimit": settings.rate_limit,
        "http_headers": {"User-Agent": USER_AGENT},
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": _QuietLogger(),
        "writethumbnail": False,
    }
    try:
        with yt_dlp.YoutubeDL(opts) as ydl:
            info = ydl.extract_info(url, download=True)
            if info is None:
                return Fetched(url, reason="nothing to download")
            if info.get("_type") == "playlist":
                return Fetched(url, reason="a playlist or channel page: add its items' URLs")
            done = info.get("requested_downloads") or []
            path = done[0].get("filepath") if done else ydl.prepare_filename(info)
    except Exception as exc:  # yt-dlp raises many types; a bad URL must not stop the others
        fault = storage_fault(exc, str(settings.media_dir))
        if fault is not None:  # ... but a full or read-only media folder stops them all
            raise fault from None
        return Fetched(url, reason=_one_line(exc))
    if not path or not os.path.isfile(path):
        size = info.get("filesize") or info.get("filesize_approx")
        if size and size > settings.max_filesize:
            return Fetched(url, reason=f"larger than the file size limit ({settings.max_filesize >> 20} MiB)")
        return Fetched(url, reason="the download produced no file")
    try:
        probe(path)  # decodable audio (or video with audio), or it goes
    except (DecodeError, TonearmError) as exc:
        os.unlink(path)
        return Fetched(url, reason=f"not audio or video ({exc})")
    meta = {k: info.get(k) for k in _SIDECAR_KEYS if info.get(k) not in (None, "")}
    if info.get("extractor") == "html5" and str(meta.get("title", "")).endswith(" (1)"):
        meta["title"] = str(meta["title"])[:-4]  # a page's only <audio>/<video>: the page's title
    meta["source_url"] = url
    if meta.get("upload_date") and len(str(meta["upload_date"])) == 8:
        d = str(meta.pop("upload_date"))
        meta["release_date"] = f"{d[:4]}-{d[4:6]}-{d[6:]}"
    if meta.get("uploader") or meta.get("channel"):
        meta.setdefault("artist", meta.get("uploader") or meta.get("channel"))
    meta.update(extra_meta or {})
    write_sidecar(path, meta)
    return Fetched(url, path=os.path.realpath(path), metadata=meta)


def write_sidecar(path: str, meta: dict[str, Any]) -> None:
    """Write ``<file>.json`` atomically (the indexer reads it as the file's metadata)."""
    import json

    from tonearm.store.files import fsync_write

    fsync_write(Path(f"{path}.json"), json.dumps(meta, ensure_ascii=False, indent=1, default=str).encode())


def media_bytes(media_dir: Path) -> int:
    """Disk used by downloaded media (sidecars and partial downloads included)."""
    if not media_dir.is_dir():
        return 0
    return sum(p.stat().st_size for p in media_dir.rglob("*") if p.is_file())


def fetch_all(
    store: Store,
    urls: Iterable[str],
    settings: FetchSettings,
    on_done: Callable[[Fetched], None] | None = None,
    max_disk: int | None = None,
) -> list[Fetched]:
    """Download every URL not added before (``settings.concurrency`` at a time); record successes."""
    sources: dict[str, Any] = dict(store.get_meta(SOURCES_META) or {})
    wanted = list(dict.fromkeys(u.strip() for u in urls if u and u.strip()))
    results: list[Fetched] = []
    todo = []
    for url in wanted:
        if url in sources and os.path.isfile(sources[url].get("path", "")):
            results.append(Fetched(url, path=sources[url]["path"], skipped=True))
        else:
            todo.append(url)

    def one(url: str) -> Fetched:
        if max_disk is not None and media_bytes(settings.media_dir) >= max_disk:
            return Fetched(url, reason=f"disk budget reached ({max_disk >> 20} MiB of media); raise --max-disk-mb")
        try:
            return download(url, settings)
        except OSError as exc:  # the sidecar or the folder: a full or read-only disk stops every download
            fault = storage_fault(exc, str(settings.media_dir))
            if fault is None:
                raise
            raise fault from None

    with ThreadPoolExecutor(max(1, settings.concurrency)) as pool:
        try:
            for res in pool.map(one, todo):
                results.append(res)
                if res.ok:
                    sources[res.url] = {"path": res.path, "added_at": time.time(), "title": res.metadata.get("title")}
                    store.set_meta(SOURCES_META, sources)
                if on_done:
                    on_done(res)
        except StorageFaultError as fault:
            pool.shutdown(cancel_futures=True)  # the downloads not started would fail the same way
            done = sum(1 for r in results if r.ok and not r.skipped)
            raise type(fault)(
                f"{fault}: {done} downloads finished and kept; run the same command again to continue"
            ) from None
    return results
