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


def test_the_first_crash_of_a_run_has_the_kernels_checked_again_and_its_file_retried(monkeypatch):
    """A damaged cache of librosa's kernels kills whichever worker loads it: after the run's first crash the
    marker is forgotten (the next worker checks, and repairs, the cache) and even a lone file gets a second try.
    A file that crashes its retry too fails."""
    from concurrent.futures import ThreadPoolExecutor

    from tonearm.library import engines

    forgotten: list[int] = []
    monkeypatch.setattr(engines, "forget_kernels", lambda: forgotten.append(1))
    monkeypatch.setattr(LocalEngine, "_pool", lambda self, workers: ThreadPoolExecutor(max_workers=1))
    tries: dict[str, int] = {}

    def analyse(job: Job) -> Result:
        tries[job.path] = tries.get(job.path, 0) + 1
        if job.path == "/m/first.flac" and tries[job.path] == 1:  # the damaged cache, repaired by the check
            raise BrokenProcessPool("A child process terminated abruptly")
        if job.path == "/m/bad.flac":  # a file that crashes every worker
            raise BrokenProcessPool("A child process terminated abruptly")
        return Result(job.path)

    engine = LocalEngine(fn=analyse)
    out = [(job.path, result.error) for job, result in engine.run([Job("/m/first.flac", {"sound": "dsp"})], workers=1)]
    assert out == [("/m/first.flac", None)] and tries["/m/first.flac"] == 2  # alone in flight, and still retried
    assert forgotten == [1]
    out = [(job.path, result.error) for job, result in engine.run([Job("/m/bad.flac", {"sound": "dsp"})], workers=1)]
    assert len(out) == 1 and "crashed" in (out[0][1] or "") and tries["/m/bad.flac"] == 2  # tried twice, then failed
    assert forgotten == [1, 1]  # once per run
