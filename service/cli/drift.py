"""`fraudlog drift [--json]`: the drift detections recorded in the log, newest first; `fraudlog drift run`:
one pass of the drift loop now (what the scheduler does every FRAUDLOG_DRIFT_EVERY seconds)."""

from __future__ import annotations

import argparse
import json
from typing import Any

import msgspec

from fraudlog.cli.context import open_engine_to_read, open_store
from fraudlog.cli.errors import CommandFailed
from fraudlog.cli.output import prints_to_a_pipe, table_console


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("drift", help="print the drift detections, newest first")
    parser.add_argument("--model-version", type=int, help="only this version's detections")
    parser.add_argument("--limit", type=int, default=50, help="the newest N detections (default 50)")
    parser.add_argument("--json", action="store_true", help="print the detections as JSON")
    parser.set_defaults(run=prints_to_a_pipe(_list))
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    run = actions.add_parser("run", help="run the drift detectors over the log now (and act on detections)")
    run.add_argument("--watch-only", action="store_true", help="record detections, never retrain")
    run.set_defaults(run=_run)


def _list(args: argparse.Namespace) -> int:
    # Imported here, not with the module: `fraudlog drift --help` needs none of them.
    from rich.table import Table

    from fraudlog.views.drift import drift_page

    if args.limit < 1:
        raise CommandFailed("--limit must be at least 1")
    items = msgspec.to_builtins(drift_page(open_engine_to_read(), limit=args.limit,
                                           model_version=args.model_version).items)
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    table = Table("position", "version", "signal", "statistic", "threshold", "window", "action", "why / moved")
    for d in items:
        moved = ", ".join(d["details"].get("moved", {})) if d["signal"] == "features" else ""
        action = f"retrain -> {d['retrained_version']}" if d["action"] == "retrain" else d["action"]
        table.add_row(str(d["position"]), str(d["model_version"]), d["signal"], f"{d['statistic']:.4g}",
                      f"{d['threshold']:.4g}", f"{d['window'][0]}-{d['window'][1]}", action,
                      moved or d["why"][:80])
    table_console().print(table)
    return 0


def _run(args: argparse.Namespace) -> int:
    from fraudlog.monitoring.drift_job import DriftWatch
    from fraudlog.store.lifecycle import LockBusy

    store = open_store()
    try:
        found = DriftWatch(store.registry, store.settings.drift, store.settings.git_commit).run(
            act=not args.watch_only)
    except LockBusy as exc:
        raise CommandFailed(str(exc)) from exc
    print(f"{len(found)} new detection(s)")
    return 0
