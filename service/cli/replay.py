"""`fraudlog replay`: check every stored prediction against the log, or backtest one version on a range."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from fraudlog.cli.context import open_store_to_read
from fraudlog.cli.errors import CommandFailed
from fraudlog.cli.output import prints_to_a_pipe, table_console
from fraudlog.ml.artifact import ArtifactRejected
from fraudlog.ml.environment import describe
from fraudlog.replay import BacktestReport, Difference, Range, ReplayReport, backtest, replay
from fraudlog.replay.backtest import SideFigures
from fraudlog.replay.compare import Change

DEFAULT_SHOWN = 10


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay", help="re-derive features and scores from the log and compare with the stored predictions",
        description="Walk the log in position order, recompute every transaction's features and the scores of "
                    "its champion and challengers, and compare them bit for bit with the stored predictions. "
                    "Exit 1 on any difference. With --model-version, backtest that version on the range "
                    "instead. Reads only: writes nothing, never alerts.")
    parser.add_argument("--from", dest="start", type=int, default=None, metavar="POS", help="first log position")
    parser.add_argument("--to", dest="stop", type=int, default=None, metavar="POS",
                        help="last log position (default: the end of the log; on a live system, events not "
                             "scored yet when replay starts count as missing)")
    parser.add_argument("--model-version", type=int, default=None, metavar="V",
                        help="backtest version V: ROC AUC and alerts beside what the champions did")
    parser.add_argument("--show", type=int, default=DEFAULT_SHOWN, metavar="N",
                        help=f"print the first N differences in full (default {DEFAULT_SHOWN})")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(run=prints_to_a_pipe(_run))


def _run(args: argparse.Namespace) -> int:
    if args.start is not None and args.stop is not None and args.start > args.stop:
        # An empty range reproduces trivially: "reproduced" would be a wrong answer (issue 27 #13).
        raise CommandFailed(f"--from {args.start} is after --to {args.stop}: nothing to replay")
    store = open_store_to_read()
    try:
        with _progress() as (on_range, advance):
            if args.model_version is not None:
                result: ReplayReport | BacktestReport = backtest(
                    store.engine, store.registry, args.model_version, start=args.start, stop=args.stop,
                    progress=advance, on_range=on_range)
            else:
                result = replay(store.engine, store.registry, start=args.start, stop=args.stop, keep=args.show,
                                progress=advance, on_range=on_range)
    except ArtifactRejected as exc:
        raise ValueError(str(exc)) from exc  # the CLI's one-line failure, exit 1
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    elif isinstance(result, BacktestReport):
        _print_backtest(table_console(), result)
    else:
        _print_replay(table_console(), result)
    return 0 if isinstance(result, BacktestReport) or result.reproduced else 1


@contextmanager
def _progress() -> Iterator[tuple[Callable[[Range], None], Callable[[int], None]]]:
    """A progress bar on stderr, so stdout carries only the report (and stays valid JSON with --json)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("replaying transactions", total=None)

        def on_range(span: Range) -> None:
            progress.update(task, total=span.transactions,
                            description=f"replaying positions {span.start:,}-{span.stop:,}")

        yield on_range, lambda n: progress.advance(task, n)


def _print_replay(console: Console, report: ReplayReport) -> None:
    for version, drift in report.environment.items():  # first: it explains any difference below
        console.print(f"environment: model version {version} was trained elsewhere: {describe(drift)}", style="yellow",
                      markup=False, highlight=False, soft_wrap=True)
    table = Table("figure", "value", title=f"Replay of log positions {report.start:,}-{report.stop:,}")
    rate = report.transactions / report.seconds if report.seconds else 0.0
    for name, value in (("events in range", report.events), ("transactions replayed", report.transactions),
                        ("predictions checked", report.checked), ("identical", report.identical),
                        ("different", report.different), ("missing", report.missing),
                        ("unexpected", report.unexpected)):
        table.add_row(name, f"{value:,}")
    table.add_row("versions (artifacts HMAC-verified)", ", ".join(map(str, report.versions)) or "-")
    table.add_row("time", f"{report.seconds:.1f} s ({rate:,.0f} transactions/s)")
    console.print(table)
    if report.reproduced:
        console.print("every prediction reproduced bit for bit")
        return
    wrong = report.different + report.missing + report.unexpected
    shown = "in full" if wrong == len(report.differences) else f"the first {len(report.differences)} in full"
    console.print(f"{wrong:,} {'prediction' if wrong == 1 else 'predictions'} NOT reproduced; {shown}:",
                  style="bold red")
    for difference in report.differences:
        for line in difference_lines(difference):
            console.print(line, markup=False, highlight=False, soft_wrap=True)


def difference_lines(difference: Difference) -> list[str]:
    """One difference in full: every disagreeing field with its stored and replayed value, exactly."""
    lines = [f"{difference.kind}: transaction {difference.transaction_id} (position {difference.position}), "
             f"model version {difference.model_version}"]
    for name, values in difference.fields.items():
        if name == "features":
            lines += [f"  features.{feature}: stored {v['stored']!r}, replayed {v['replayed']!r}"
                      for feature, v in cast(dict[str, Change], values).items()]
        else:
            change = cast(Change, values)
            lines.append(f"  {name}: stored {change['stored']!r}, replayed {change['replayed']!r}")
    return lines


def _print_backtest(console: Console, report: BacktestReport) -> None:
    span = report.span
    table = Table("model", "predictions", "labels", "frauds", "ROC AUC", "alerts", "alert rate",
                  title=f"Backtest of version {report.version} (threshold {report.threshold:.6g}) on log positions "
                        f"{span.start:,}-{span.stop:,}, {span.transactions:,} transactions")
    table.add_row(f"v{report.version} (backtest)", *_figures(report.candidate))
    table.add_row("champions as served", *_figures(report.champions))
    for version, figures in report.per_champion.items():
        table.add_row(f"  v{version}", *_figures(figures))
    console.print(table)
    console.print("ROC AUC from raw scores on the labels known now; champions' alerts are the outbox's rows.")
    if report.in_training_range:
        console.print(f"note: version {report.version} learned from {report.in_training_range:,} of these "
                      "transactions; its figures on them are optimistic", style="yellow")


def _figures(side: SideFigures) -> list[str]:
    auc, rate = side["roc_auc"], side["alert_rate"]
    return [f"{side['predictions']:,}", f"{side['labels']:,}", f"{side['frauds']:,}",
            "-" if auc is None else f"{auc:.4f}", f"{side['alerts']:,}", "-" if rate is None else f"{rate:.2%}"]
