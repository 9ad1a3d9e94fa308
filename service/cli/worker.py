"""`fraudlog worker`: run and supervise Dramatiq worker processes for fraudlog's actors.

Each process is `dramatiq fraudlog.workers.actors --processes 1`; this command restarts any that dies (see
`fraudlog.workers.supervisor`), where `dramatiq --processes N` would stop them all.
"""

from __future__ import annotations

import argparse
from typing import Any

from fraudlog.config import SECRET_KEY, Settings
from fraudlog.workers.supervisor import WorkerSupervisor, dramatiq_command


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("worker", help="run Dramatiq worker processes (score, deliver_alerts, sweep), "
                                                  "restarting any that dies")
    parser.add_argument("--processes", type=int, default=1,
                        help="Dramatiq worker processes, each restarted if it dies (default 1)")
    parser.add_argument("--threads", type=int, default=4, help="worker threads per process (default 4)")
    parser.add_argument("--queues", nargs="*", default=None, help="only these queues (default: all)")
    parser.set_defaults(run=_worker)


def _worker(args: argparse.Namespace) -> int:
    settings = Settings.from_env().require(SECRET_KEY)  # checked here too, to fail before starting with one line
    if settings.broker_url == "memory://":
        raise ValueError("fraudlog worker needs a real broker (FRAUDLOG_BROKER_URL=amqp://... or redis://...); "
                         "with memory:// the API runs the workers itself")
    if args.processes < 1 or args.threads < 1:
        raise ValueError("--processes and --threads must be at least 1")
    print(f"fraudlog worker: {args.processes} supervised Dramatiq processes x {args.threads} threads", flush=True)
    return WorkerSupervisor(dramatiq_command(args.threads, args.queues or ()), args.processes).run()
