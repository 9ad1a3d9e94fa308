"""`fraudlog scheduler`: sweeps, alert delivery and retraining on a schedule (exactly one per deployment)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import threading
from functools import partial
from typing import Any

from fraudlog.cli.context import open_store
from fraudlog.cli.errors import CommandFailed
from fraudlog.composition import SCHEDULER_PERIODS, SchedulePeriods, describe_schedule, job_schedule
from fraudlog.workers import tasks
from fraudlog.workers.process import start_broker
from fraudlog.workers.scheduler import build_scheduler, single_scheduler

log = logging.getLogger("fraudlog.scheduler")
LOCK_CHECK_SECONDS = 5.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("scheduler", help="run the sweeping and retraining schedule; one per deployment")
    parser.add_argument("--sweep-every", type=float, default=SCHEDULER_PERIODS.sweep, help="seconds between sweeps")
    parser.add_argument("--alerts-every", type=float, default=SCHEDULER_PERIODS.deliver_alerts,
                        help="seconds between alert relay runs")
    parser.add_argument("--evaluate-every", type=float, default=SCHEDULER_PERIODS.evaluate,
                        help="seconds between evaluations of the challengers (promotion on evidence)")
    parser.set_defaults(run=_scheduler)


def _scheduler(args: argparse.Namespace) -> int:
    store = open_store()
    start_broker(store.settings)
    periods = SchedulePeriods(sweep=args.sweep_every, deliver_alerts=args.alerts_every,
                              evaluate=args.evaluate_every, retrain_check=SCHEDULER_PERIODS.retrain_check)
    jobs = job_schedule(store.settings.retrain_every, periods, store.settings.drift)
    with single_scheduler(store.engine, store.settings) as still_held:
        scheduler = build_scheduler([(job.actor, job.seconds, partial(tasks.actor_named(job.actor).send, *job.args))
                                     for job in jobs])

        def check_lock() -> None:
            if not still_held():
                log.error("the scheduler lock was lost (database restart?); stopping so only one scheduler runs")
                lost.set()
                scheduler.shutdown(wait=False)

        lost = threading.Event()
        scheduler.add_job(check_lock, "interval", seconds=LOCK_CHECK_SECONDS, id="lock", max_instances=1)
        print(f"scheduler running: {describe_schedule(jobs)}", flush=True)
        with contextlib.suppress(KeyboardInterrupt, SystemExit):  # Ctrl-C or SIGTERM: a clean stop
            scheduler.start()
    if lost.is_set():
        raise CommandFailed("the scheduler lock was lost; restart to take it again")
    return 0
