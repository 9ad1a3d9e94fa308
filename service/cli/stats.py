"""`fraudlog stats [--wait S] [--json]`: the figures of `GET /v1/stats` from the database, no API needed.

`--wait S` is for scripts and deployment checks: it polls until every transaction a champion should score
is scored (backlog 0) and exits 1 if that has not happened within S seconds.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from fraudlog.cli.context import open_engine_to_read
from fraudlog.cli.errors import CommandFailed
from fraudlog.cli.output import prints_to_a_pipe

POLL_SECONDS = 0.5


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("stats", help="events, scored, backlog and alerts, read from the database")
    parser.add_argument("--wait", type=float, default=None, metavar="S",
                        help="wait up to S seconds for the backlog to drain; exit 1 if it does not")
    parser.add_argument("--json", action="store_true", help="print every figure as JSON")
    parser.set_defaults(run=prints_to_a_pipe(_run))


def _run(args: argparse.Namespace) -> int:
    from fraudlog.store.stats import collect_stats  # SQLAlchemy: not for `fraudlog stats --help`

    engine = open_engine_to_read()
    figures = collect_stats(engine)
    if args.wait is not None:
        deadline = time.monotonic() + args.wait
        while figures["backlog"]["count"] and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            figures = collect_stats(engine)
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
    else:
        backlog, alerts = figures["backlog"], figures["alerts"]
        print(f"transactions {figures['events']:,}, labels {figures['labels']:,}, scored {figures['scored']:,}, "
              f"backlog {backlog['count']:,} (before the first champion: {backlog['unassigned']:,}), alerts "
              + (", ".join(f"{status} {n:,}" for status, n in sorted(alerts.items())) or "none"))
    if args.wait is not None and figures["backlog"]["count"]:
        raise CommandFailed(f"{figures['backlog']['count']:,} transactions still unscored after {args.wait:g} s")
    return 0
