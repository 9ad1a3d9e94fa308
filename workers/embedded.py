"""Run the workers inside another process: the embedded mode's worker threads, and the API's doorbell.

With `memory://` the API process is the whole deployment: Dramatiq's StubBroker, a Dramatiq Worker on
threads, and the deployment's schedule on small periodic loops. Same actors, same jobs, same code paths as
separate processes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import dramatiq

from fraudlog.composition import EMBEDDED_PERIODS, SchedulePeriods, job_schedule, worker_services
from fraudlog.config import Settings
from fraudlog.workers import tasks
from fraudlog.workers.process import forget_stopped_workers, start_broker

log = logging.getLogger("fraudlog.embedded")


class PeriodicSweep:
    """Run tasks every few seconds until stopped (the embedded stand-in for `fraudlog scheduler`)."""

    def __init__(self, every: float, tasks: list[Callable[[], Any]]) -> None:
        self._every = every
        self._tasks = tasks
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fraudlog-periodic", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            for task in self._tasks:
                try:
                    task()
                except Exception:
                    log.exception("periodic task failed")


@asynccontextmanager
async def embedded_workers(settings: Settings, threads: int = 2,
                           periods: SchedulePeriods = EMBEDDED_PERIODS) -> AsyncIterator[dramatiq.Worker]:
    """Worker threads running the actors' jobs, and the deployment's schedule (`job_schedule`, the one
    `fraudlog scheduler` runs), inside this process for as long as the block runs."""
    broker = start_broker(settings)
    jobs = tasks.WorkerJobs(lambda: worker_services(settings), eager=True)
    previous = tasks.run_jobs(broker, jobs)
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    periodics = [PeriodicSweep(job.seconds, [partial(tasks.actor_named(job.actor).send, *job.args)])
                 for job in job_schedule(settings.retrain_every, periods, settings.drift)]
    for periodic in periodics:
        periodic.start()
    try:
        yield worker
    finally:
        for periodic in periodics:
            periodic.stop()
        worker.stop()
        forget_stopped_workers(broker)
        tasks.run_jobs(broker, previous)
        jobs.close()  # its delivery thread, then its engine

