"""`fraudlog scheduler`: enqueue sweeps and alert delivery on a schedule (exactly one per deployment)."""

from __future__ import annotations

import argparse
import threading
from typing import Any

from service.cli.context import open_store


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("scheduler", help="run the sweeping (and retraining) schedule; one per deployment")
    parser.add_argument("--sweep-every", type=float, default=10.0, help="seconds between sweeps")
    parser.add_argument("--alerts-every", type=float, default=5.0, help="seconds between alert relay runs")
    parser.set_defaults(run=_scheduler)


def _scheduler(args: argparse.Namespace) -> int:
    from workers import actors
    from workers.scheduler import Job, run_jobs, single_scheduler, stop_on_signals

    store = open_store()
    stop = threading.Event()
    stop_on_signals(stop)
    jobs = [Job("sweep", args.sweep_every, actors.sweep.send),
            Job("deliver_alerts", args.alerts_every, actors.deliver_alerts.send)]
    with single_scheduler(store.engine, store.settings):
        print(f"scheduler running: sweep every {args.sweep_every:g} s, alerts every {args.alerts_every:g} s",
              flush=True)
        run_jobs(jobs, stop)
    return 0
