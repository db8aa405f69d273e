"""Terminal rendering shared by the commands and ``tonearm demo``: result tables and progress."""

from __future__ import annotations

import os
from typing import Any

from rich.progress import Progress
from rich.table import Table


class RichProgress:
    def __init__(self, progress: Progress, label: str = "analysing") -> None:
        self.progress = progress
        self.task = progress.add_task(label, total=None)

    def start(self, total: int) -> None:
        self.progress.update(self.task, total=total)

    def advance(self, path: str, status: str) -> None:
        self.progress.update(self.task, advance=1, description=f"{status:>8} {os.path.basename(path)[:40]}")


def results_table(payload: dict[str, Any]) -> Table:
    q = payload["query"]
    label = q.get("title") or os.path.basename(q.get("path") or q.get("target") or "")
    table = Table(title=f"Similar to {label} ({q['view']} view)", title_justify="left")
    matched = any("match" in r for r in payload["results"])
    for col in ("#", "score", "title", "artist", "album", "id") + (("matched at",) if matched else ()):
        table.add_column(col, justify="right" if col in ("#", "score") else "left")
    for r in payload["results"]:
        title = r.get("title") or os.path.basename(r.get("path") or "")
        cells = [str(r["rank"]), f"{r['score']:.3f}", title, r.get("artist") or "", r.get("album") or "", r["id"]]
        if matched:
            m = r.get("match")
            cells.append(f"{m['start']:.1f}-{m['end']:.1f} s" if m else "")
        table.add_row(*cells)
    return table


def search_table(payload: dict[str, Any]) -> Table:
    q = payload["query"]
    title = f"{q['mode']} search: {q['text']}"
    caption = q.get("explain") or ""
    if q.get("served_by"):
        caption += f" (answered by the running server at {q['served_by']})"
    table = Table(title=title, title_justify="left", caption=caption or None, caption_justify="left")
    for col in ("#", "score", "title", "artist", "why", "id"):
        table.add_column(col, justify="right" if col in ("#", "score") else "left", overflow="fold")
    for r in payload["results"]:
        why = []
        if r.get("modes"):
            why.append("found by " + ", ".join(f"{m} #{rank}" for m, rank in r["modes"].items()))
        if r.get("passage"):
            at = f"[{clock(r['start'])}] " if r.get("start") is not None else ""
            why.append(f"{at}{r['passage'][:140]}")
        if r.get("emotions"):
            why.append(
                f"emotions: {r['emotions']}" + (f"; popularity {r['popularity']:g}" if r.get("popularity") else "")
            )
        if r.get("tags"):
            why.append("tags: " + ", ".join(f"{t} {p:.2f}" for t, p in r["tags"].items()))
        title_ = r.get("title") or os.path.basename(r.get("path") or "")
        table.add_row(str(r["rank"]), f"{r['score']:.3f}", title_, r.get("artist") or "", "\n".join(why), r["id"])
    return table


def clock(seconds: float) -> str:
    m, s_ = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s_:02d}" if h else f"{m}:{s_:02d}"


def identify_table(payload: dict[str, Any]) -> Table:
    q = payload["query"]
    table = Table(title=f"Identified ({q['seconds']:.0f} s clip, {q['ms']:.0f} ms)", title_justify="left")
    for col in ("#", "confidence", "at", "title", "artist", "album", "matched", "id"):
        table.add_column(col, justify="right" if col in ("#", "confidence", "matched") else "left")
    for r in payload["results"]:
        title = r.get("title") or os.path.basename(r.get("path") or "")
        change = []
        if r.get("speed", 1.0) != 1.0:
            change.append(f"speed {r['speed']:g}")
        if r.get("pitch_semitones"):
            change.append(f"pitch {r['pitch_semitones']:+g} st")
        at = f"{clock(r['offset'])} ({r['offset']:.1f} s)" + (f", {', '.join(change)}" if change else "")
        table.add_row(str(r["rank"]), f"{r['confidence']:.2f}", at, title, r.get("artist") or "",
                      r.get("album") or "", str(r["matched"]), r["id"])  # fmt: skip
    return table


def playlist_table(payload: dict[str, Any], title: str) -> Table:
    table = Table("#", "title", "artist", "album", "score", "id", title=title, title_justify="left")
    for r in payload["results"]:
        table.add_row(str(r["rank"]), r.get("title") or os.path.basename(r.get("path") or ""), r.get("artist") or "",
                      r.get("album") or "", f"{r['score']:.3f}", r["id"])  # fmt: skip
    return table
