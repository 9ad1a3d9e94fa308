"""`fraudlog train --csv PATH`: train the first model version from a creditcard.csv-format file."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from service.bootstrap import DEFAULT_ALERT_RATE, train_first_version
from service.cli.context import open_store
from service.ml.datasets import creditcard_transactions
from service.ml.specs import spec_for

CSV_START = datetime(2013, 9, 1, tzinfo=UTC)  # the data set's two days of September 2013


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("train", help="train a first model version from a creditcard.csv file")
    parser.add_argument("--csv", required=True, help="a creditcard.csv-format file (.csv or .csv.gz)")
    parser.add_argument("--model", choices=["hst", "logreg"], default="hst")
    parser.add_argument("--rows", type=int, default=None, help="train on the first N rows only")
    parser.add_argument("--cards", type=int, default=None, help="assign N card ids, as `simulate` does")
    parser.add_argument("--alert-rate", type=float, default=DEFAULT_ALERT_RATE,
                        help="target fraction of transactions that alert, used to choose the threshold")
    parser.add_argument("--no-promote", action="store_true", help="register as a challenger, not the champion")
    parser.set_defaults(run=_train)


def _train(args: argparse.Namespace) -> int:
    store = open_store()
    rows = creditcard_transactions(args.csv, start=CSV_START, cards=args.cards)
    if args.rows is not None:
        rows = islice(rows, args.rows)
    print(f"training {args.model} on {args.csv} ...", flush=True)
    result = train_first_version(store.registry, rows, spec_for(args.model), source=f"csv:{args.csv}",
                                 target_alert_rate=args.alert_rate, promote=not args.no_promote)
    auc = result.metrics["prequential_roc_auc"]
    print(f"version {result.version}: {result.metrics['n_events']} events, {result.metrics['n_frauds']} frauds, "
          f"prequential ROC AUC {auc:.4f}, threshold {result.threshold:.6g}, "
          f"{'champion' if not args.no_promote else 'not promoted'}, artifact sha256 {result.artifact_sha256[:12]}")
    return 0
