"""`fraudlog train --csv PATH`: import a labelled creditcard.csv-format file into the log, then train on the log.

The rows become historical transactions (ids prefixed `hist:`) and labels in the log; a second run imports
nothing new. The version is trained by the same function as every retrain (`fraudlog.lifecycle.versions`),
so its card features come from the log exactly as serving computes them.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from rich.progress import Progress

from fraudlog.cli.context import open_store
from fraudlog.lifecycle.first_version import HISTORY_PREFIX, train_first_version
from fraudlog.lifecycle.versions import DEFAULT_ALERT_RATE
from fraudlog.ml.datasets import creditcard_transactions
from fraudlog.ml.specs import BUILT_IN, DEFAULT_MODEL, ModelSpec, custom_spec, spec_for

CSV_START = datetime(2013, 9, 1, tzinfo=UTC)  # the data set's two days of September 2013


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("train", help="import a labelled creditcard.csv file into the log and train on it")
    parser.add_argument("--csv", required=True, help="a creditcard.csv-format file (.csv or .csv.gz)")
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--model", choices=BUILT_IN, default=DEFAULT_MODEL, help="a built-in model spec")
    model.add_argument("--spec", metavar="MODULE:FACTORY", default=None,
                       help="your own River pipeline: a callable that returns an untrained one, as "
                            "module:factory (the working directory is importable) or path/to/file.py:factory")
    parser.add_argument("--features", default=None, metavar="PATTERNS",
                        help="comma-separated names or patterns of the features the model reads (default: all "
                             "but the time-of-day ones)")
    parser.add_argument("--exclude-features", default=None, metavar="PATTERNS",
                        help="comma-separated names or patterns of features to leave out (replaces the default)")
    parser.add_argument("--rows", type=int, default=None, help="import the first N rows only")
    parser.add_argument("--cards", type=int, default=None, help="assign N card ids, as `simulate` does")
    parser.add_argument("--id-prefix", default=HISTORY_PREFIX,
                        help=f"prefix of the imported transaction ids (default {HISTORY_PREFIX!r})")
    parser.add_argument("--alert-rate", type=float, default=DEFAULT_ALERT_RATE,
                        help="target fraction of transactions that alert, used to choose the threshold")
    parser.add_argument("--no-promote", action="store_true", help="register as a challenger, not the champion")
    parser.set_defaults(run=_train)


def chosen_spec(args: argparse.Namespace) -> ModelSpec:
    """The spec `--model`/`--spec` name, with `--features`/`--exclude-features` applied."""
    spec = custom_spec(args.spec) if args.spec else spec_for(args.model)
    include = None if args.features is None else _patterns(args.features)
    exclude = None if args.exclude_features is None else _patterns(args.exclude_features)
    return spec.with_features(include=include, exclude=exclude)


def _patterns(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _train(args: argparse.Namespace) -> int:
    spec = chosen_spec(args)  # first: a spec that cannot be imported fails before any database is opened
    store = open_store()
    spec = spec.with_categories(store.settings.card_categories)
    rows = creditcard_transactions(args.csv, start=CSV_START, cards=args.cards)
    if args.rows is not None:
        rows = islice(rows, args.rows)
    with Progress(transient=True) as progress:
        task = progress.add_task(f"importing {args.csv}", total=args.rows)
        result = train_first_version(store.registry, rows, spec, id_prefix=args.id_prefix,
                                     target_alert_rate=args.alert_rate, promote=not args.no_promote,
                                     progress=lambda n: progress.advance(task, n),
                                     git_commit=store.settings.git_commit)
    data, metrics = result.training_data, result.metrics
    auc = metrics["prequential_roc_auc"]
    print(f"imported {result.imported.imported:,} new of {result.imported.rows:,} rows "
          f"({result.imported.labels:,} new labels)")
    print(f"version {result.version} ({spec.name}): trained on log positions {data.first_position}-"
          f"{data.last_position}, {data.event_count or 0:,} transactions, {data.label_count or 0:,} labels, "
          f"{data.fraud_count or 0:,} frauds; prequential ROC AUC {'-' if auc is None else f'{auc:.4f}'}; "
          f"threshold {result.threshold:.6g} ({metrics['calibration_alert_rate']:.2%} of the newest "
          f"{metrics['calibration_transactions']:,} transactions alert); "
          f"{'champion' if not args.no_promote else 'challenger'}; artifact sha256 {result.artifact_sha256[:12]}")
    return 0
