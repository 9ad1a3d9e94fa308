"""`fraudlog models list|show|promote|retire`: the model registry.

Each action imports the use case it runs (River, the composition), so `fraudlog models --help` starts at once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import msgspec

from fraudlog.cli import quality
from fraudlog.cli.context import open_store, open_store_to_read
from fraudlog.cli.errors import CommandFailed
from fraudlog.cli.output import prints_to_a_pipe, table_console
from fraudlog.domain.assignment import CHAMPION, RETIRED

if TYPE_CHECKING:
    from fraudlog.ml.specs import ModelSpec


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("models", help="list, show, promote and retire model versions")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every version with its status and metrics")
    listing.add_argument("--json", action="store_true", help="print the versions as JSON")
    listing.set_defaults(run=prints_to_a_pipe(_list))
    show = actions.add_parser("show", help="a version's full lineage")
    show.add_argument("version", type=int, help="the version number")
    show.set_defaults(run=prints_to_a_pipe(_show))
    retrain = actions.add_parser("retrain", help="train the next version on the log now; it enters as a challenger")
    retrain.add_argument("--promote", action="store_true", help="make it the champion at once (recorded as manual)")
    retrain.add_argument("--through", type=int, default=None, help="last log position to learn (default: all)")
    retrain.add_argument("--model", default=None, help="train this built-in spec instead of the champion's")
    retrain.set_defaults(run=_retrain)
    evaluate = actions.add_parser("evaluate", help="evaluate the challengers on shadow evidence now (promote, "
                                                   "keep or retire, each recorded in the log)")
    evaluate.set_defaults(run=_evaluate)
    verify = actions.add_parser("verify", help="retrain a version from its lineage and compare the artifact SHA-256")
    verify.add_argument("version", type=int, help="the version number")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(run=prints_to_a_pipe(_verify))
    for name, role in (("promote", CHAMPION), ("retire", RETIRED)):
        action = actions.add_parser(name, help=f"{name} a version (appends an event to the log)")
        action.add_argument("version", type=int, help="the version number")
        action.set_defaults(run=_set_role, role=role)
    quality.register(actions)


def _list(args: argparse.Namespace) -> int:
    from rich.table import Table

    from fraudlog.views.models import model_summaries

    summaries = model_summaries(open_store_to_read().registry)
    if args.json:
        print(json.dumps(msgspec.to_builtins(summaries), indent=2))
        return 0
    table = Table("version", "status", "parent", "what distinguishes it", "threshold", "predictions", "labels",
                  "ROC AUC", "training AUC", "created")
    for s in summaries:
        live = s.live_metrics
        table.add_row(str(s.version), s.status, str(s.parent_version or "-"), s.traits,
                      f"{s.threshold:.4g}", str(live.predictions), str(live.labels),
                      _fmt(live.roc_auc), _fmt(s.metrics.get("prequential_roc_auc")), s.created_at[:19])
    table_console().print(table)
    return 0


def _show(args: argparse.Namespace) -> int:
    from fraudlog.views.models import model_detail

    print(json.dumps(msgspec.to_builtins(model_detail(open_store_to_read().registry, args.version)), indent=2))
    return 0


def _set_role(args: argparse.Namespace) -> int:
    from fraudlog.domain.records import Decision
    from fraudlog.lifecycle.roles import assign_role

    store = open_store()
    action = "promote" if args.role == CHAMPION else "retire"
    position = assign_role(store.registry, args.version, args.role, Decision(
        kind="manual", action=action, reason=f"{action}d by an operator (fraudlog models {action})"))
    print(f"version {args.version} is now {args.role} (log position {position})")
    return 0


def _retrain(args: argparse.Namespace) -> int:
    from fraudlog.lifecycle.retraining import retrain
    from fraudlog.ml.specs import spec_for

    store = open_store()
    spec: ModelSpec | None = (None if args.model is None
                              else spec_for(args.model).with_categories(store.settings.card_categories))
    with _lock_busy_is_one_line():
        result = retrain(store.registry, through=args.through, promote=args.promote, spec=spec,
                         git_commit=store.settings.git_commit, trigger={"kind": "manual"})
    if result is None:
        print("nothing new to learn since the newest version's cut")
        return 0
    auc = result.metrics["prequential_roc_auc"]
    print(f"version {result.version} (trained while {result.parent_version} was champion) is {result.status}: "
          f"{result.reason}; {result.metrics['n_events']:,} transactions, {result.metrics['n_labels']:,} labels, "
          f"prequential ROC AUC {_fmt(auc)}, artifact sha256 {result.artifact_sha256[:12]}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from fraudlog.composition import promotion_policy
    from fraudlog.lifecycle.evaluation import evaluate_challengers

    store = open_store()
    with _lock_busy_is_one_line():
        decisions = evaluate_challengers(store.registry, promotion_policy(store.settings))
    if not decisions:
        print("no challengers to evaluate")
    for d in decisions:
        evidence = d.evidence
        aucs = (f"; ROC AUC {evidence.challenger_auc:.4f} vs champion {evidence.champion_auc:.4f}, "
                f"p = {evidence.p_value:.3g}" if evidence.p_value is not None else "")
        print(f"version {d.version}: {d.action} ({d.reason}); {evidence.transactions:,} shared labelled "
              f"transactions, {evidence.frauds:,} frauds{aucs}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from fraudlog.lifecycle.verification import verify_version

    report = verify_version(open_store_to_read().registry, args.version)
    print(json.dumps(report.to_dict(), indent=2) if args.json else "\n".join(report.lines()))
    return 0 if report.reproduced else 1


@contextlib.contextmanager
def _lock_busy_is_one_line() -> Iterator[None]:
    """Losing the lifecycle lock to a concurrent retrain or evaluation is an expected outcome: say so in one line."""
    from fraudlog.store.lifecycle import LockBusy

    try:
        yield
    except LockBusy as exc:
        raise CommandFailed(f"{exc}; try again once it has finished") from None


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
