"""`fraudlog worker`: run Dramatiq workers for fraudlog's actors (same as `dramatiq workers.actors`)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from service.config import SECRET_KEY, Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("worker", help="run Dramatiq workers (score, deliver_alerts, sweep)")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--queues", nargs="*", default=None, help="only these queues (default: all)")
    parser.set_defaults(run=_worker)


def _worker(args: argparse.Namespace) -> int:
    settings = Settings.from_env().require(SECRET_KEY)  # checked here too, to fail before exec with one line
    if settings.broker_url == "memory://":
        raise ValueError("fraudlog worker needs a real broker (FRAUDLOG_BROKER_URL=amqp://... or redis://...); "
                         "with memory:// the API runs the workers itself")
    argv = [sys.executable, "-m", "dramatiq", "workers.actors", "--processes", str(args.processes),
            "--threads", str(args.threads)]
    if args.queues:
        argv += ["--queues", *args.queues]
    os.execv(sys.executable, argv)
    return 0  # not reached
