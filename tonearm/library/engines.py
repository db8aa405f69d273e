"""Where the analysis of an index run happens: local worker processes (default) or a Ray cluster.

Both engines take the same ``Job`` list and yield ``(job, Result)`` pairs as files finish, so the
index run commits each track the moment its analysis is done, whatever ran it. Neither ever
touches the store: the index process writes, into any backend. Both apply back-pressure (at most
two jobs in flight per local worker, one per actor, so a crash loses little work and memory stays
flat), and both turn
a dead worker into a per-file failure instead of a failed run.

* ``LocalEngine``: a ``spawn`` process pool on this machine.
* ``RayEngine``: one actor per worker on a Ray cluster (``--address``, or a local Ray started for
  the run). Actors live for the whole run, so models load once per actor. A job whose actor dies
  (a decoder segfault, an out-of-memory kill, a lost node) is retried on a fresh actor up to
  ``MAX_ATTEMPTS`` times, then reported as that file's failure. Cluster nodes need tonearm (and
  the optional extras the chosen analyzers use) installed; the driver's ``TONEARM_*`` settings
  are passed to the actors.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from tonearm.analyzers.numba_cache import ensure_kernels, forget_kernels
from tonearm.errors import TonearmError
from tonearm.library.worker import Job, Result, file_timeout_base, quiet_native_stderr, run_job, start_worker

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
JobFn = Callable[[Job], Result]


class Engine(Protocol):
    name: str

    def run(self, jobs: Sequence[Job], workers: int) -> Iterator[tuple[Job, Result]]: ...


def _crashed(
    job: Job, reason: str = "analysis worker crashed on this file (a decoder fault, or killed for memory)"
) -> Result:
    return Result(job.path, error=reason)


class LocalEngine:
    """A process pool on this machine (one process per core; each with one BLAS thread)."""

    name = "local"

    def __init__(self, fn: JobFn = run_job) -> None:
        self.fn = fn

    def run(self, jobs: Sequence[Job], workers: int) -> Iterator[tuple[Job, Result]]:
        pending = list(reversed(jobs))
        suspects: list[Job] = []
        kernels_rechecked = False
        max_in_flight = max(1, workers) * 2
        # N workers x N BLAS threads would fight over N cores; spawned workers read these at start.
        for var in _THREAD_VARS:
            os.environ.setdefault(var, "1")
        while pending or suspects:
            if suspects:  # after a crash: each file that was in flight runs alone, so a crash names its file
                job = suspects.pop()
                yield job, self._alone(job)
                continue
            with self._pool(workers) as pool, _stopped_on_exit(pool):
                in_flight: dict[Future[Result], Job] = {}
                try:
                    while pending or in_flight:
                        while pending and len(in_flight) < max_in_flight:
                            # Taken from pending only once submitted: a pool that broke since the last wait
                            # refuses the submit, and the file must wait for the next pool, not vanish.
                            fut = pool.submit(self.fn, pending[-1])
                            in_flight[fut] = pending.pop()
                        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                        for fut in done:
                            result = fut.result()  # raises BrokenProcessPool while the job is still in flight
                            yield in_flight.pop(fut), result
                except BrokenProcessPool:
                    # A worker died (a decoder crash, the OOM killer, a hang stopped by the time limit): the
                    # files in flight are suspects, most of them innocent. Retry them alone; go on with a fresh pool.
                    # After the run's first crash, the next worker checks librosa's cached kernels again (a
                    # damaged cache crashes every file; the check repairs it), and even a lone file gets a retry.
                    stuck = list(in_flight.values())
                    if len(stuck) == 1 and kernels_rechecked:
                        yield stuck[0], _crashed(stuck[0])
                    else:
                        suspects.extend(reversed(stuck))
                    if not kernels_rechecked:
                        forget_kernels()
                        kernels_rechecked = True

    def _pool(self, workers: int) -> ProcessPoolExecutor:
        ctx = mp.get_context("spawn")  # never fork a process that holds database threads
        return ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx, initializer=start_worker)

    def _alone(self, job: Job) -> Result:
        """Run one suspect file in a pool of its own: a crash now is this file's."""
        started = time.monotonic()
        with self._pool(1) as pool:
            try:
                return pool.submit(self.fn, job).result()
            except BrokenProcessPool:
                took = time.monotonic() - started
                base = file_timeout_base()
                if base > 0 and took >= base:
                    return _crashed(job, f"stopped after {took:.0f} s: analysis hung past the per-file time limit")
                return _crashed(job)


@contextlib.contextmanager
def _stopped_on_exit(pool: ProcessPoolExecutor) -> Iterator[None]:
    """When the run stops early (Ctrl-C, SIGTERM, a full disk), stop the workers now instead of letting
    them finish their files: nothing they hold is committed anyway, and the user is waiting."""
    try:
        yield
    except BaseException:
        procs = list((getattr(pool, "_processes", None) or {}).values())  # shutdown forgets them
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            with contextlib.suppress(Exception):
                proc.kill()
        raise


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a ``host:port`` nobody listens on (Ray itself keeps retrying for minutes)."""
    import socket

    target = address.split("://", 1)[-1]
    host, sep, port = target.rpartition(":")
    if address == "auto" or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as exc:
        raise TonearmError(f"cannot start or reach Ray at {address}: {exc}") from None


def _import_ray():  # the ray module; a clear error names the extra
    try:
        import ray
    except ImportError as exc:
        raise TonearmError("the Ray engine needs the ray extra: pip install 'tonearm[ray]'") from exc
    return ray


class RayEngine:
    """Analysis actors on a Ray cluster (see the module docstring)."""

    name = "ray"

    def __init__(self, address: str | None = None, fn: JobFn = run_job) -> None:
        self.address = address
        self.fn = fn

    def _connect(self, ray: Any, workers: int) -> bool:
        """Connect (or start a local Ray); True if this call started it and must shut it down."""
        if ray.is_initialized():
            return False
        env = {k: v for k, v in os.environ.items() if k.startswith("TONEARM_")}
        env.update({v: os.environ.get(v, "1") for v in _THREAD_VARS})
        kwargs: dict[str, Any] = {
            "runtime_env": {"env_vars": env},
            "log_to_driver": bool(os.environ.get("TONEARM_DEBUG_WORKERS")),
            "include_dashboard": False,
        }
        if self.address:
            _check_reachable(self.address)
        try:
            if self.address:
                ray.init(address=self.address, **kwargs)
            else:
                ray.init(num_cpus=max(1, workers), **kwargs)
        except Exception as exc:  # ConnectionError, timeouts, bad addresses
            where = self.address or "a local Ray instance"
            raise TonearmError(f"cannot start or reach Ray at {where}: {exc}") from None
        return True

    def run(self, jobs: Sequence[Job], workers: int) -> Iterator[tuple[Job, Result]]:
        if not jobs:
            return
        ray = _import_ray()
        started = self._connect(ray, workers)
        try:
            yield from self._run(ray, jobs, workers)
        finally:
            if started:
                ray.shutdown()

    def _run(self, ray: Any, jobs: Sequence[Job], workers: int) -> Iterator[tuple[Job, Result]]:
        fn = self.fn

        @ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)
        class AnalysisActor:
            def __init__(self) -> None:
                quiet_native_stderr()
                ensure_kernels()  # see start_worker

            def run(self, job: Job) -> Result:
                return fn(job)

        actors = [AnalysisActor.remote() for _ in range(max(1, workers))]
        idle = list(actors)
        pending = list(reversed(jobs))
        attempts: dict[str, int] = {}
        in_flight: dict[Any, tuple[Job, Any]] = {}
        try:
            while pending or in_flight:
                while pending and idle:
                    job = pending.pop()
                    actor = idle.pop()
                    in_flight[actor.run.remote(job)] = (job, actor)
                done, _ = ray.wait(list(in_flight), num_returns=1)
                for ref in done:
                    job, actor = in_flight.pop(ref)
                    try:
                        result = ray.get(ref)
                    except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError) as exc:
                        # The actor is gone (or going): replace it, and give the file another try (a local
                        # fresh actor checks librosa's cached kernels again, as LocalEngine's workers do).
                        forget_kernels()
                        ray.kill(actor)
                        actors[actors.index(actor)] = fresh = AnalysisActor.remote()
                        idle.append(fresh)
                        attempts[job.path] = attempts.get(job.path, 0) + 1
                        if attempts[job.path] < MAX_ATTEMPTS:
                            log.warning("retrying %s after a worker crash (%s)", job.path, type(exc).__name__)
                            pending.append(job)
                        else:
                            yield job, _crashed(job, f"analysis worker crashed on this file {MAX_ATTEMPTS} times")
                        continue
                    except ray.exceptions.RayError as exc:
                        idle.append(actor)
                        yield job, _crashed(job, f"Ray error: {str(exc).splitlines()[0][:200]}")
                        continue
                    idle.append(actor)
                    yield job, result
        finally:
            for actor in actors:
                ray.kill(actor)


def make_engine(name: str, address: str | None = None) -> Engine:
    """``local`` or ``ray`` (``address``: a Ray cluster, e.g. ``127.0.0.1:6379`` or ``ray://host:10001``)."""
    if name == "local":
        if address:
            raise TonearmError("--address is for --engine ray")
        return LocalEngine()
    if name == "ray":
        _import_ray()
        return RayEngine(address)
    raise TonearmError(f"unknown engine {name!r}: use local or ray")
