"""`fraudlog simulate`: stream a creditcard.csv-format file to a running API, with labels arriving later."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from rich.progress import Progress

from fraudlog.cli.client_options import add_client_options, connected_client
from fraudlog.client import stream
from fraudlog.ml.datasets import creditcard_transactions


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("simulate", help="stream a creditcard.csv file to a running API")
    parser.add_argument("--csv", required=True, help="a creditcard.csv-format file (.csv or .csv.gz)")
    add_client_options(parser, url_required=True)
    parser.add_argument("--rate", type=float, default=None, help="transactions per second (default: full)")
    parser.add_argument("--label-delay", type=float, default=60.0, help="seconds before a label is posted")
    parser.add_argument("--cards", type=int, default=1_000, help="how many card ids to assign")
    parser.add_argument("--skip", type=int, default=0, help="skip the first N rows (e.g. the training part)")
    parser.add_argument("--rows", type=int, default=None, help="send at most N rows")
    parser.add_argument("--batch-size", type=int, default=500, help="transactions per POST (default 500)")
    parser.set_defaults(run=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    start = datetime.now(UTC).replace(microsecond=0)
    rows = islice(creditcard_transactions(args.csv, start=start, cards=args.cards), args.skip,
                  None if args.rows is None else args.skip + args.rows)
    with connected_client(args) as client, Progress() as progress:
        task = progress.add_task("streaming", total=args.rows)
        report = stream(client, rows, batch_size=args.batch_size, rate=args.rate, label_delay_seconds=args.label_delay,
                        restamp=True, progress=lambda n: progress.advance(task, n))
    print(f"sent {report.sent} transactions ({report.accepted} new, {report.duplicates} duplicates) and "
          f"{report.labels} labels in {report.seconds:.1f} s: {report.rate:.0f} transactions/s")
    return 0
