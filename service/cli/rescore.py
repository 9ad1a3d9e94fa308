"""`fraudlog rescore`: score again transactions recorded as scoring failures, once their model is fixed."""

from __future__ import annotations

import argparse
from typing import Any

from fraudlog.cli.context import open_store
from fraudlog.cli.errors import CommandFailed
from fraudlog.scoring.rescore import rescore
from fraudlog.scoring.scorer import Scorer


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rescore", help="score again transactions a model could not score (recorded scoring failures)",
        description="Delete the recorded scoring failures of the given transactions (or, with --failed, of every "
                    "one) and score them again with their champion and challengers. A model that still raises "
                    "records the failure again, and the command exits 1. A named transaction without a failure "
                    "is scored too, which changes nothing when it was already scored.")
    parser.add_argument("transaction_ids", nargs="*", metavar="TX_ID", help="transactions to score again")
    parser.add_argument("--failed", action="store_true", help="every transaction recorded as a scoring failure")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    if args.failed == bool(args.transaction_ids):
        raise CommandFailed("name transactions (TX_ID ...) or --failed, not both and not neither")
    store = open_store()
    scorer = Scorer(store.engine, store.registry, allow_environment_drift=store.settings.allow_environment_drift)
    try:
        report = rescore(store.engine, scorer, None if args.failed else args.transaction_ids)
    finally:
        scorer.close()
    print(f"{report.transactions} transactions: {report.transactions - report.failed} scored, "
          f"{report.failed} failed again ({report.predictions} predictions written)")
    return 1 if report.failed else 0
