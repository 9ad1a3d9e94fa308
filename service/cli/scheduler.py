"""`fraudlog scheduler`: sweeps, alert delivery and retraining on a schedule (exactly one per deployment)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import threading
from typing import Any

from service.cli.context import open_store
from service.cli.errors import CommandFailed
from workers import tasks
from workers.process import start_broker
from workers.scheduler import EVENT_COUNT_CHECK_SECONDS, build_scheduler, single_scheduler

log = logging.getLogger("fraudlog.scheduler")
LOCK_CHECK_SECONDS = 5.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("scheduler", help="run the sweeping and retraining schedule; one per deployment")
    parser.add_argument("--sweep-every", type=float, default=10.0, help="seconds between sweeps")
    parser.add_argument("--alerts-every", type=float, default=5.0, help="seconds between alert relay runs")
    parser.add_argument("--evaluate-every", type=float, default=10.0,
                        help="seconds between evaluations of the challengers (promotion on evidence)")
    parser.set_defaults(run=_scheduler)


def _scheduler(args: argparse.Namespace) -> int:
    store = open_store()
    start_broker(store.settings)
    schedule = store.settings.retrain_every
    jobs = [("sweep", args.sweep_every, tasks.sweep.send),
            ("deliver_alerts", args.alerts_every, tasks.deliver_alerts.send),
            ("evaluate", args.evaluate_every, tasks.evaluate.send)]
    if schedule.seconds is not None:
        jobs.append(("retrain", schedule.seconds, tasks.retrain.send))
        retrain_text = f"every {schedule.seconds:g} s"
    else:
        jobs.append(("retrain", EVENT_COUNT_CHECK_SECONDS, lambda: tasks.retrain.send(schedule.events or 1)))
        retrain_text = f"every {schedule.events} new transactions"
    if store.settings.drift.enabled:
        jobs.append(("drift", store.settings.drift.every_seconds, tasks.watch_drift.send))
    with single_scheduler(store.engine, store.settings) as still_held:
        scheduler = build_scheduler(jobs)

        def check_lock() -> None:
            if not still_held():
                log.error("the scheduler lock was lost (database restart?); stopping so only one scheduler runs")
                lost.set()
                scheduler.shutdown(wait=False)

        lost = threading.Event()
        scheduler.add_job(check_lock, "interval", seconds=LOCK_CHECK_SECONDS, id="lock", max_instances=1)
        print(f"scheduler running: sweep every {args.sweep_every:g} s, alerts every {args.alerts_every:g} s, "
              f"evaluate every {args.evaluate_every:g} s, retrain {retrain_text}", flush=True)
        with contextlib.suppress(KeyboardInterrupt, SystemExit):  # Ctrl-C or SIGTERM: a clean stop
            scheduler.start()
    if lost.is_set():
        raise CommandFailed("the scheduler lock was lost; restart to take it again")
    return 0
