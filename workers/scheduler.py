"""`fraudlog scheduler`: the deployment's one clock. It enqueues `sweep` and `deliver_alerts` on a period.

Exactly one scheduler may run per database: on Postgres it holds a session advisory lock, on SQLite an
exclusive lock on a file beside the database; a second scheduler refuses to start.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from service.config import Settings, sqlite_path

log = logging.getLogger("fraudlog.scheduler")

ADVISORY_LOCK_KEY = 0x6672617564  # "fraud"


class SchedulerAlreadyRunning(RuntimeError):
    pass


@contextmanager
def single_scheduler(engine: Engine, settings: Settings) -> Iterator[None]:
    """Hold the deployment-wide scheduler lock for as long as the block runs."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            if not conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({ADVISORY_LOCK_KEY})").scalar():
                raise SchedulerAlreadyRunning("another fraudlog scheduler holds the lock on this database")
            try:
                yield
            finally:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({ADVISORY_LOCK_KEY})")
        return
    path = sqlite_path(settings.database_url)
    lock_path = f"{path}.scheduler.lock" if path else f"/tmp/fraudlog-scheduler-{os.getuid()}.lock"
    with open(lock_path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SchedulerAlreadyRunning(f"another fraudlog scheduler holds {lock_path}") from None
        yield


@dataclass
class Job:
    name: str
    every_seconds: float
    run: Callable[[], Any]
    next_at: float = 0.0


def run_jobs(jobs: list[Job], stop: threading.Event) -> None:
    """Run each job on its period until `stop` is set; a failing job is logged and retried next period."""
    while not stop.is_set():
        now = time.monotonic()
        for job in jobs:
            if now >= job.next_at:
                job.next_at = now + job.every_seconds
                try:
                    job.run()
                except Exception:
                    log.exception("scheduled job %s failed", job.name)
        stop.wait(max(0.05, min(job.next_at for job in jobs) - time.monotonic()))


def stop_on_signals(stop: threading.Event) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
