"""`fraudlog scheduler`: the deployment's one clock, on APScheduler.

It runs the one schedule of `fraudlog.composition.job_schedule` (the embedded mode runs the same): `sweep`,
`deliver_alerts` and `evaluate` on a period, and `retrain` on FRAUDLOG_RETRAIN_EVERY: a period,
or a count of transactions appended since the champion's watermark (checked every few seconds).

APScheduler rather than periodiq: the schedule is per deployment (one process, guarded by a lock), not
per worker, and APScheduler gives interval triggers with `max_instances=1` and `coalesce` (a slow job is
never stacked, missed runs collapse into one) without tying the clock to Dramatiq's worker lifecycle.

Exactly one scheduler may run per database: on Postgres it holds a session advisory lock, on SQLite an
exclusive lock on a file beside the database; a second scheduler refuses to start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.engine import Engine

from fraudlog.config import Settings
from fraudlog.store.locks import hold_deployment_lock

log = logging.getLogger("fraudlog.scheduler")

ADVISORY_LOCK_KEY = 0x6672617564  # "fraud"


class SchedulerAlreadyRunning(RuntimeError):
    pass


@contextmanager
def single_scheduler(engine: Engine, settings: Settings) -> Iterator[Callable[[], bool]]:
    """Hold the deployment-wide scheduler lock for as long as the block runs.

    Yields a check that says whether the lock is still held: a Postgres session lock vanishes with its
    session (a database restart, a killed backend), and a scheduler that lost it must stop, or two run.
    """
    with hold_deployment_lock(engine, key=ADVISORY_LOCK_KEY, name="scheduler") as still_held:
        if still_held is None:
            raise SchedulerAlreadyRunning("another fraudlog scheduler holds the lock on this database")
        yield still_held



def build_scheduler(jobs: list[tuple[str, float, Callable[[], Any]]]) -> BlockingScheduler:
    scheduler = BlockingScheduler(job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30})
    for name, seconds, run in jobs:
        scheduler.add_job(_logged(name, run), "interval", seconds=seconds, id=name, name=name)
    # One line for the whole schedule: APScheduler's own INFO lines (one per job added, two per run) are muted.
    log.info("scheduling %s", ", ".join(f"{name} every {seconds:g} s" for name, seconds, _ in jobs),
             extra={"jobs": [name for name, _, _ in jobs]})
    return scheduler


def _logged(name: str, run: Callable[[], Any]) -> Callable[[], None]:
    def job() -> None:
        try:
            run()
        except Exception:  # a failing job is retried on its next run; the schedule goes on
            log.exception("scheduled job %s failed", name)
    return job
