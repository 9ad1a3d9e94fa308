"""`fraudlog explain TRANSACTION_ID [--json]`: why each version scored a transaction as it did.

Shows each stored prediction's top reasons: those stored with an alert, and for every other prediction the
reasons computed now from its stored features and its frozen version (the same pure function, so they are
what the scorer would have stored). The audit beside them says whether replay reproduces the prediction.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import msgspec

from fraudlog.cli.context import open_store
from fraudlog.cli.errors import CommandFailed
from fraudlog.domain.records import Explanation
from fraudlog.responses.transaction import PredictionView
from fraudlog.views.transaction import load_transaction_view


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("explain", help="the reasons behind a transaction's scores")
    parser.add_argument("transaction_id", metavar="TRANSACTION_ID", help="the transaction whose scores to explain")
    parser.add_argument("--json", action="store_true", help="print every prediction's reasons as JSON")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    store = open_store()
    view = load_transaction_view(store.engine, args.transaction_id, store.registry)
    if view is None:
        raise CommandFailed(f"no transaction {args.transaction_id!r} in the log")
    if not view.predictions:
        raise CommandFailed(f"transaction {args.transaction_id!r} has no prediction yet")
    shown = sorted(view.predictions, key=lambda p: (not p.champion, p.model_version))
    if args.json:
        print(json.dumps([{"model_version": p.model_version, "champion": p.champion, "score": p.score,
                           "threshold": p.threshold, "alert": view.alert is not None and p.champion,
                           "reasons": msgspec.to_builtins(p.reasons)} for p in shown], indent=2))
        return 0
    for prediction in shown:
        print(_heading(prediction, alerted=view.alert is not None and prediction.champion))
        if isinstance(prediction.reasons, Explanation):
            for line in _reason_lines(prediction.reasons):
                print(line)
    return 0


def _heading(prediction: PredictionView, *, alerted: bool) -> str:
    role = "champion" if prediction.champion else "challenger"
    verdict = "alert" if alerted else ("above threshold" if prediction.score >= prediction.threshold else "no alert")
    method = prediction.reasons.method if isinstance(prediction.reasons, Explanation) else "none"
    return (f"version {prediction.model_version} ({role}): score {prediction.score:.4f}, threshold "
            f"{prediction.threshold:.4f}, {verdict}; reasons by {method}")


def _reason_lines(explanation: Explanation) -> list[str]:
    return [f"  {reason.contribution:+.4f} {explanation.units}  {reason.sentence}  [{reason.feature}]"
            for reason in explanation.reasons]
