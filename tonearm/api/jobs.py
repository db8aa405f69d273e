"""Index jobs started over HTTP: one at a time, in a background thread, with progress and cancel.

The job runs the same ``Indexer`` as ``tonearm index``. Cancelling stops it at the next
finished file: tracks already committed stay (the index is crash-safe by design) and the next
job resumes where it stopped.
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
    state: str = "queued"  # queued | running | done | failed | cancelled
    total: int | None = None
    done: int = 0
    current: str | None = None
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
    cancel_requested: bool = False

    # ProgressSink protocol ------------------------------------------------------------
    def start(self, total: int) -> None:
        self.total = total

    def advance(self, path: str, status: str) -> None:
        self.done += 1
        self.current = path
        if self.cancel_requested:
            raise JobCancelled()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "roots": self.roots, "state": self.state, "total": self.total, "done": self.done,
            "current": self.current, "started_at": self.started_at, "finished_at": self.finished_at,
            "report": self.report, "error": self.error,
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
        with self._lock:
            busy = self.running()
            if busy is not None:
                raise TonearmError(f"index job {busy.id} is still running")
            job = Job(uuid.uuid4().hex[:12], roots)
            self.jobs[job.id] = job
        threading.Thread(target=self._run, args=(job,), daemon=True, name=f"index-{job.id}").start()
        return job

    def cancel(self, job_id: str) -> Job:
        job = self.jobs[job_id]
        if job.state in ("queued", "running"):
            job.cancel_requested = True
        return job

    def _run(self, job: Job) -> None:
        from tonearm.analyzers import parse_views
        from tonearm.library.indexer import Indexer
        from tonearm.store import open_store

        job.state = "running"
        try:
            store = open_store(self.library)
            views = parse_views(None, store.get_meta("views"))  # the library's own analyzer choices
            report = Indexer(store, views).run(job.roots, workers=self.workers, progress=job)
            job.report = report.to_json()
            job.state = "done"
        except JobCancelled:
            job.state = "cancelled"
        except TonearmError as exc:
            job.state, job.error = "failed", str(exc)
        except Exception as exc:  # the server must survive anything a job does
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            job.finished_at = time.time()
