"""Jobs started over HTTP: index the server's folders, add URLs, fetch a feed.

One job at a time, in a background thread, with progress (phase, done/total) and cancel. The
jobs run the same code as ``tonearm index``, ``tonearm add`` and ``tonearm feed``. Cancelling
stops at the next finished file or download: tracks already committed stay (indexing is
crash-safe by design) and the next job resumes where this one stopped.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from tonearm.errors import TonearmError


class JobCancelled(Exception):
    """Raised inside the index run to stop it at the next finished file."""


@dataclass
class Job:
    id: str
    roots: list[str]
    kind: str = "index"  # index | add | feed
    phase: str = "indexing"  # downloading | indexing
    state: str = "queued"  # queued | running | done | failed | cancelled
    total: int | None = None
    done: int = 0
    current: str | None = None
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
    cancel_requested: bool = False
    messages: list[str] = field(default_factory=list)  # per-URL failures and skips

    # ProgressSink protocol ------------------------------------------------------------
    def start(self, total: int) -> None:
        self.phase, self.total, self.done = "indexing", total, 0

    def advance(self, path: str, status: str) -> None:
        self.done += 1
        self.current = path
        if self.cancel_requested:
            raise JobCancelled()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "phase": self.phase, "roots": self.roots, "state": self.state,
            "total": self.total, "done": self.done,
            "current": self.current, "started_at": self.started_at, "finished_at": self.finished_at,
            "report": self.report, "error": self.error, "messages": self.messages,
        }  # fmt: skip


class JobManager:
    """Runs index jobs on the server's library, one at a time."""

    def __init__(self, library: str, workers: int = 1) -> None:
        self.library = library
        self.workers = workers
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def running(self) -> Job | None:
        return next((j for j in self.jobs.values() if j.state in ("queued", "running")), None)

    def start(self, roots: list[str]) -> Job:
        """Index the given folders (the server's roots) with the library's views."""
        return self._launch(Job(uuid.uuid4().hex[:12], roots), lambda store, job: self._index(store, job, roots))

    def start_add(self, urls: list[str], settings: Any, max_disk: int | None) -> Job:
        """Download URLs into the media folder, then index what arrived."""
        job = Job(uuid.uuid4().hex[:12], [], kind="add", phase="downloading", total=len(urls))

        def work(store: Any, job: Job) -> None:
            from tonearm.library.fetch import fetch_all

            def done(res: Any) -> None:
                if job.cancel_requested:
                    raise JobCancelled()
                job.done += 1
                job.current = res.url
                if res.reason:
                    job.messages.append(f"{res.url}: {res.reason}")

            results = fetch_all(store, urls, settings, done, max_disk)
            self._index(store, job, [r.path for r in results if r.ok and not r.skipped])

        return self._launch(job, work)

    def start_feed(self, url: str, latest: int | None, settings: Any, max_disk: int | None) -> Job:
        """Subscribe to (or refresh) a feed, download new episodes, then index them."""
        job = Job(uuid.uuid4().hex[:12], [], kind="feed", phase="downloading")

        def work(store: Any, job: Job) -> None:
            from tonearm.library.feeds import FEEDS_META, subscribe, update_feed

            if url not in (store.get_meta(FEEDS_META) or {}) or latest is not None:
                subscribe(store, url, latest)
            rep = update_feed(store, url, settings, max_disk)
            job.messages += [f"{r.url}: {r.reason}" for r in rep.new if r.reason]
            job.messages += [f"{u}: {why}" for u, why in rep.skipped]
            self._index(store, job, [r.path for r in rep.new if r.ok])

        return self._launch(job, work)

    def _launch(self, job: Job, work: Any) -> Job:
        with self._lock:
            busy = self.running()
            if busy is not None:
                raise TonearmError(f"job {busy.id} is still running")
            self.jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, work), daemon=True, name=f"job-{job.id}").start()
        return job

    def _index(self, store: Any, job: Job, paths: list[str]) -> None:
        from tonearm.library.indexer import Indexer

        if not paths:
            job.phase = "indexing"
            return
        job.report = Indexer(store).run(paths, workers=self.workers, progress=job).to_json()  # library's views

    def cancel(self, job_id: str) -> Job:
        job = self.jobs[job_id]
        if job.state in ("queued", "running"):
            job.cancel_requested = True
        return job

    def _run(self, job: Job, work: Any) -> None:
        from tonearm.store import open_store

        job.state = "running"
        try:
            work(open_store(self.library), job)
            job.state = "done"
        except JobCancelled:
            job.state = "cancelled"
        except TonearmError as exc:
            job.state, job.error = "failed", str(exc)
        except Exception as exc:  # the server must survive anything a job does
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            job.finished_at = time.time()
