"""The local engine's bookkeeping when its process pool breaks: every file comes out exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from tonearm.library.engines import LocalEngine
from tonearm.library.worker import Job, Result


class _PoolThatBreaksOnce(ThreadPoolExecutor):
    """A pool that refuses its ``fail_at``-th submit as a broken process pool does (a worker died since the
    engine last waited: the OOM killer, a decoder crash)."""

    submits = 0
    fail_at = 3

    def submit(self, fn, /, *args, **kwargs):
        type(self).submits += 1
        if type(self).submits == self.fail_at:
            raise BrokenProcessPool("A child process terminated abruptly")
        return super().submit(fn, *args, **kwargs)


def test_a_pool_that_breaks_between_two_submits_loses_no_file(monkeypatch):
    """Found by CI (`test_a_worker_killed_mid_run_costs_no_file`, 5 of 6 files, none failed): a job taken from
    the queue before a refused submit was neither run nor reported."""
    monkeypatch.setattr(LocalEngine, "_pool", lambda self, workers: _PoolThatBreaksOnce(max_workers=max(1, workers)))
    engine = LocalEngine(fn=lambda job: Result(job.path))
    jobs = [Job(f"/m/{i}.flac", {"sound": "dsp"}) for i in range(8)]
    out = [(job.path, result.path, result.error) for job, result in engine.run(jobs, workers=2)]
    assert sorted(p for p, _, _ in out) == sorted(j.path for j in jobs)  # each once: none lost, none twice
    assert all(p == r and e is None for p, r, e in out)
    assert _PoolThatBreaksOnce.submits > 3  # the pool did break, and the rest went to a fresh one
