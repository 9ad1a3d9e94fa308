"""`fraudlog scheduler`: the deployment's one clock, on APScheduler.

It enqueues `sweep` and `deliver_alerts` on a period, and `retrain` on FRAUDLOG_RETRAIN_EVERY: a period,
or a count of transactions appended since the champion's watermark (checked every few seconds).

APScheduler rather than periodiq: the schedule is per deployment (one process, guarded by a lock), not
per worker, and APScheduler gives interval triggers with `max_instances=1` and `coalesce` (a slow job is
never stacked, missed runs collapse into one) without tying the clock to Dramatiq's worker lifecycle.

Exactly one scheduler may run per database: on Postgres it holds a session advisory lock, on SQLite an
exclusive lock on a file beside the database; a second scheduler refuses to start.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.engine import Engine

from service.config import Settings, sqlite_path

log = logging.getLogger("fraudlog.scheduler")

ADVISORY_LOCK_KEY = 0x6672617564  # "fraud"
EVENT_COUNT_CHECK_SECONDS = 5.0


class SchedulerAlreadyRunning(RuntimeError):
    pass


@contextmanager
def single_scheduler(engine: Engine, settings: Settings) -> Iterator[Callable[[], bool]]:
    """Hold the deployment-wide scheduler lock for as long as the block runs.

    Yields a check that says whether the lock is still held: a Postgres session lock vanishes with its
    session (a database restart, a killed backend), and a scheduler that lost it must stop, or two run.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            if not conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({ADVISORY_LOCK_KEY})").scalar():
                raise SchedulerAlreadyRunning("another fraudlog scheduler holds the lock on this database")

            def still_held() -> bool:
                try:
                    return bool(conn.exec_driver_sql(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        f"AND pid = pg_backend_pid() AND objid = {ADVISORY_LOCK_KEY & 0xFFFFFFFF}").scalar())
                except Exception:
                    return False

            try:
                yield still_held
            finally:
                with contextlib.suppress(Exception):
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({ADVISORY_LOCK_KEY})")
        return
    path = sqlite_path(settings.database_url)
    lock_path = f"{path}.scheduler.lock" if path else f"/tmp/fraudlog-scheduler-{os.getuid()}.lock"
    with open(lock_path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SchedulerAlreadyRunning(f"another fraudlog scheduler holds {lock_path}") from None
        yield lambda: True  # a file lock lives as long as this process



def build_scheduler(jobs: list[tuple[str, float, Callable[[], Any]]]) -> BlockingScheduler:
    scheduler = BlockingScheduler(job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30})
    for name, seconds, run in jobs:
        scheduler.add_job(_logged(name, run), "interval", seconds=seconds, id=name, name=name)
    return scheduler


def _logged(name: str, run: Callable[[], Any]) -> Callable[[], None]:
    def job() -> None:
        try:
            run()
        except Exception:  # a failing job is retried on its next run; the schedule goes on
            log.exception("scheduled job %s failed", name)
    return job
