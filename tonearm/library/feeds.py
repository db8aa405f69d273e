"""Podcast feeds: subscribe, fetch new episodes' enclosures, keep their episode metadata.

Feeds are fetched with httpx (tonearm's user agent, a timeout) and parsed with feedparser (RSS
and Atom). Only enclosures whose type (or, without a type, file extension) says audio or video
are downloaded; others are reported as skipped. Subscriptions and the episodes seen per feed (by
GUID) live in the library, so ``feed update`` only fetches what is new; ``--latest N`` bounds
each feed, and the media disk budget bounds them all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tonearm.errors import TonearmError
from tonearm.library.fetch import USER_AGENT, Fetched, FetchSettings, download, media_bytes
from tonearm.library.metadata import clean_note
from tonearm.store.base import Store

FEEDS_META = "feeds"
_MEDIA_EXT = (".mp3", ".m4a", ".aac", ".ogg", ".opus", ".oga", ".flac", ".wav", ".mp4", ".m4v", ".webm", ".mkv")


@dataclass
class Episode:
    guid: str
    url: str
    title: str
    media_type: str
    published: str | None
    description: str | None
    duration: str | None


@dataclass
class FeedReport:
    feed: str
    title: str | None = None
    new: list[Fetched] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (url, why)


def fetch_feed(url: str, timeout: float = 30.0) -> Any:
    """Download and parse a feed; TonearmError with the reason if it cannot be read."""
    import feedparser
    import httpx

    try:
        resp = httpx.get(url, headers={"User-Agent": USER_AGENT}, timeout=timeout, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise TonearmError(f"feed {url} unreachable: {exc}") from None
    if resp.status_code != 200:
        raise TonearmError(f"feed {url} answered HTTP {resp.status_code}")
    parsed = feedparser.parse(resp.content)
    if parsed.bozo and not parsed.entries:
        raise TonearmError(f"{url} is not a readable RSS/Atom feed ({parsed.get('bozo_exception')})")
    return parsed


def _is_media(media_type: str, href: str) -> bool:
    if media_type:
        return media_type.split("/")[0] in ("audio", "video")
    return href.lower().split("?")[0].endswith(_MEDIA_EXT)


def episodes(parsed: Any) -> tuple[list[Episode], list[tuple[str, str]]]:
    """Episodes with an enclosure, newest first, and (url, why) for entries that have none usable."""
    out, skipped = [], []
    for e in parsed.entries:
        enclosures = [l for l in e.get("links", []) if l.get("rel") == "enclosure"]  # noqa: E741
        media = [l for l in enclosures if _is_media(l.get("type", ""), l.get("href", ""))]  # noqa: E741
        if not media:
            why = "enclosure is not audio or video" if enclosures else "no enclosure"
            skipped.append((enclosures[0].get("href") if enclosures else e.get("link", "?"), why))
            continue
        link = media[0]
        out.append(Episode(
            guid=e.get("id") or link["href"], url=link["href"], title=e.get("title") or link["href"],
            media_type=link.get("type", ""), published=e.get("published"),
            description=e.get("summary"), duration=e.get("itunes_duration"),
        ))  # fmt: skip
    order = sorted(range(len(out)), key=lambda i: _when(parsed.entries, out[i]), reverse=True)
    return [out[i] for i in order], skipped


def _when(entries: Any, ep: Episode) -> float:
    for e in entries:
        if (e.get("id") or "") == ep.guid and e.get("published_parsed"):
            return time.mktime(e.published_parsed)
    return 0.0


def subscribe(store: Store, url: str, latest: int | None) -> dict[str, Any]:
    parsed = fetch_feed(url)
    feeds = dict(store.get_meta(FEEDS_META) or {})
    entry = feeds.get(url, {"episodes": {}, "added_at": time.time()})
    entry.update(title=parsed.feed.get("title") or url, latest=latest)
    feeds[url] = entry
    store.set_meta(FEEDS_META, feeds)
    return entry


def update_feed(store: Store, url: str, settings: FetchSettings, max_disk: int | None = None) -> FeedReport:
    """Download the new episodes of one subscribed feed (newest first, within its --latest)."""
    feeds = dict(store.get_meta(FEEDS_META) or {})
    if url not in feeds:
        raise TonearmError(f"not subscribed to {url}; use `tonearm feed add {url}`")
    entry = feeds[url]
    parsed = fetch_feed(url)
    report = FeedReport(url, parsed.feed.get("title") or entry.get("title"))
    eps, report.skipped = episodes(parsed)
    if entry.get("latest"):
        eps = eps[: int(entry["latest"])]
    seen = entry.setdefault("episodes", {})
    for ep in eps:
        if seen.get(ep.guid, {}).get("state") == "ok":
            continue
        if max_disk is not None and media_bytes(settings.media_dir) >= max_disk:
            report.skipped.append((ep.url, f"disk budget reached ({max_disk >> 20} MiB of media)"))
            continue
        meta = {"show": report.title, "title": ep.title, "episode_title": ep.title, "guid": ep.guid,
                "release_date": ep.published, "description": clean_note(ep.description or ""), "feed_url": url,
                "episode_duration": ep.duration}  # fmt: skip
        res = download(ep.url, settings, {k: v for k, v in meta.items() if v})
        seen[ep.guid] = {"url": ep.url, "state": "ok" if res.ok else "failed", "path": res.path,
                         "reason": res.reason, "title": ep.title}  # fmt: skip
        report.new.append(res)
        feeds[url] = entry
        store.set_meta(FEEDS_META, feeds)
    entry["checked_at"] = time.time()
    feeds[url] = entry
    store.set_meta(FEEDS_META, feeds)
    return report


def feed_summaries(store: Store) -> list[dict[str, Any]]:
    """Subscribed feeds with their episode counts (``feed list`` and ``GET /api/feeds``)."""
    feeds = store.get_meta(FEEDS_META) or {}
    out = []
    for url, f in feeds.items():
        states = [e.get("state") for e in f.get("episodes", {}).values()]
        out.append({"url": url, "title": f.get("title"), "latest": f.get("latest"), "checked_at": f.get("checked_at"),
                    "episodes": states.count("ok"), "failed": states.count("failed")})  # fmt: skip
    return out
