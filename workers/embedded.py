"""Run the workers inside another process: the embedded mode's worker threads, and the API's doorbell.

With `memory://` the API process is the whole deployment: Dramatiq's StubBroker, a Dramatiq Worker on
threads, and a small periodic loop that sweeps. Same actors, same code paths as separate processes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import dramatiq

from service.composition import build_worker_services
from service.config import Settings
from workers import tasks
from workers.delivery import stop_delivery
from workers.process import start_broker
from workers.runtime import install_runtime

log = logging.getLogger("fraudlog.embedded")

SWEEP_EVERY_SECONDS = 5.0
RETRAIN_CHECK_SECONDS = 2.0
EVALUATE_EVERY_SECONDS = 2.0


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
                           sweep_every: float = SWEEP_EVERY_SECONDS) -> AsyncIterator[dramatiq.Worker]:
    """Worker threads, a runtime and a periodic sweep inside this process, for as long as the block runs."""
    broker = start_broker(settings)
    previous = install_runtime(build_worker_services(settings))
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    schedule = settings.retrain_every
    periodics = [PeriodicSweep(sweep_every, [tasks.sweep.send]),
                 PeriodicSweep(EVALUATE_EVERY_SECONDS, [tasks.evaluate.send])]
    if schedule.seconds is not None:
        periodics.append(PeriodicSweep(schedule.seconds, [tasks.retrain.send]))
    else:
        periodics.append(PeriodicSweep(RETRAIN_CHECK_SECONDS, [lambda: tasks.retrain.send(schedule.events or 1)]))
    if settings.drift.enabled:
        periodics.append(PeriodicSweep(settings.drift.every_seconds, [tasks.watch_drift.send]))
    for periodic in periodics:
        periodic.start()
    try:
        yield worker
    finally:
        for periodic in periodics:
            periodic.stop()
        worker.stop()
        stop_delivery()  # before the runtime goes: its next run would deliver with the wrong services
        install_runtime(previous)
