"""`fraudlog models list|show|promote|retire`: the model registry."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from service.cli.context import open_store
from service.cli.train import CSV_START
from service.domain.assignment import CHAMPION, RETIRED
from service.retrain import DEFAULT_MARGIN, retrain
from service.verify import TrainingFile, verify_version
from service.views.models import version_detail, version_summaries


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("models", help="list, show, promote and retire model versions")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every version with its status and metrics")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=_list)
    show = actions.add_parser("show", help="a version's full lineage")
    show.add_argument("version", type=int)
    show.set_defaults(run=_show)
    retrain = actions.add_parser("retrain", help="retrain the champion on the log since its watermark, now")
    retrain.add_argument("--no-promote", action="store_true", help="keep the new version as a challenger")
    retrain.add_argument("--through", type=int, default=None, help="last log position to learn (default: all)")
    retrain.add_argument("--margin", type=float, default=DEFAULT_MARGIN,
                         help="promote if ROC AUC >= the champion's minus this")
    retrain.set_defaults(run=_retrain)
    verify = actions.add_parser("verify", help="retrain a version from its lineage and compare the artifact SHA-256")
    verify.add_argument("version", type=int)
    verify.add_argument("--csv", default=None, help="for a version without a parent: the file it was trained from")
    verify.add_argument("--cards", type=int, default=None, help="with --csv: the --cards given to `fraudlog train`")
    verify.add_argument("--rows", type=int, default=None, help="with --csv: the --rows given to `fraudlog train`")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(run=_verify)
    for name, role in (("promote", CHAMPION), ("retire", RETIRED)):
        action = actions.add_parser(name, help=f"{name} a version (appends an event to the log)")
        action.add_argument("version", type=int)
        action.set_defaults(run=_set_role, role=role)


def _list(args: argparse.Namespace) -> int:
    summaries = version_summaries(open_store())
    if args.json:
        print(json.dumps(summaries, indent=2))
        return 0
    table = Table("version", "status", "parent", "model", "threshold", "predictions", "labels", "ROC AUC",
                  "training AUC", "created")
    for s in summaries:
        live = s["live_metrics"]
        table.add_row(str(s["version"]), s["status"], str(s["parent_version"] or "-"), s["model_spec"]["name"],
                      f"{s['threshold']:.4g}", str(live["predictions"]), str(live["labels"]),
                      _fmt(live["roc_auc"]), _fmt(s["metrics"].get("prequential_roc_auc")), s["created_at"][:19])
    Console().print(table)
    return 0


def _show(args: argparse.Namespace) -> int:
    print(json.dumps(version_detail(open_store(), args.version), indent=2))
    return 0


def _set_role(args: argparse.Namespace) -> int:
    store = open_store()
    position = store.registry.set_role(args.version, args.role)
    print(f"version {args.version} is now {args.role} (log position {position})")
    return 0


def _retrain(args: argparse.Namespace) -> int:
    result = retrain(open_store().registry, through=args.through, promote=not args.no_promote, margin=args.margin)
    if result is None:
        print("nothing new to learn since the champion's watermark")
        return 0
    auc = result.metrics["prequential_roc_auc"]
    print(f"version {result.version} (parent {result.parent_version}) is {result.status}: {result.reason}; "
          f"{result.metrics['n_events']} events, prequential ROC AUC {_fmt(auc)}, "
          f"artifact sha256 {result.artifact_sha256[:12]}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    source = None if args.csv is None else TrainingFile(Path(args.csv), CSV_START, args.cards, args.rows)
    report = verify_version(open_store().registry, args.version, source)
    print(json.dumps(report.to_dict(), indent=2) if args.json else "\n".join(report.lines()))
    return 0 if report.reproduced else 1


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
