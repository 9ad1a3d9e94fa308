"""`fraudlog tail`: follow the prediction stream on a terminal, as `kubectl logs -f` follows a pod."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

import msgspec

from fraudlog.cli.client_options import add_client_options, connected_client
from fraudlog.cli.output import prints_to_a_pipe

if TYPE_CHECKING:
    from fraudlog.client import PredictionItem


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("tail", help="follow the predictions of a running API as they are made")
    add_client_options(parser)
    parser.add_argument("--from", dest="after", default=None, metavar="CURSOR",
                        help="start after this cursor (default: from now on; 0: from the beginning)")
    parser.add_argument("--all-versions", action="store_true", help="challengers too, not only champions")
    parser.add_argument("--model-version", type=int, default=None, help="only this version's predictions")
    parser.add_argument("--min-score", type=float, default=None, help="only predictions scoring at least this")
    parser.add_argument("--alerts", action="store_true", help="only alerts")
    parser.add_argument("--json", action="store_true", help="one JSON object per line, with its cursor")
    parser.add_argument("--retry-for", type=float, default=10.0, metavar="SECONDS",
                        help="keep reconnecting this long without a connection before failing (default 10)")
    parser.set_defaults(run=prints_to_a_pipe(_tail))


def _tail(args: argparse.Namespace) -> int:
    filters = {"versions": "all" if args.all_versions else None, "model_version": args.model_version,
               "min_score": args.min_score, "alerts": args.alerts or None}
    with connected_client(args) as client:
        for item in client.follow(args.after, give_up_after=args.retry_for, **filters):
            print(json.dumps(msgspec.to_builtins(item)) if args.json else format_prediction(item), flush=True)
    return 0


def format_prediction(item: PredictionItem) -> str:
    """One line: cursor, when scored, transaction, version and role, score against threshold, ALERT."""
    role = "champion" if item.champion else "challenger"
    alert = "  ALERT" if item.is_alert else ""
    return (f"{item.cursor:>10}  {item.scored_at}  {item.transaction_id}  v{item.model_version} {role}"
            f"  score {item.score:.4f} / {item.threshold:.4f}{alert}")

