"""`fraudlog rebuild --into URL`: copy the log into an empty database and recompute everything else there."""

from __future__ import annotations

import argparse
import os
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from fraudlog.cli.context import open_store
from fraudlog.cli.output import table_console
from fraudlog.config import Settings, normalise_database_url, sqlite_path
from fraudlog.domain.alert_window import AlertWindow
from fraudlog.ml.artifact import ArtifactRejected
from fraudlog.replay.rebuild import REBUILT_MARKER, RebuildReport, rebuild


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rebuild", help="rebuild every derived table into an empty database from the event log alone",
        description="Copy the log of FRAUDLOG_DATABASE_URL (events, with their positions) and the model version "
                    "rows into an empty database, then recompute labels, predictions and alerts there from the "
                    f"log alone. Rebuilt alerts are marked sent ({REBUILT_MARKER!r}) so none is delivered again.")
    parser.add_argument("--into", required=True, metavar="URL",
                        help="the empty target database: sqlite:///PATH or postgresql://... (migrated first)")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    store = open_store()
    target_url = normalise_database_url(args.into)
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("rebuilding: events copied and derived", total=None)
            report = rebuild(store.engine, target_url, store.settings.secret_key,
                             progress=lambda n: progress.advance(task, n),
                             on_total=lambda n: progress.update(task, total=n),
                             alert_window=AlertWindow(store.settings.alert_coalesce_window))
    except ArtifactRejected as exc:
        raise ValueError(str(exc)) from exc  # the CLI's one-line failure, exit 1
    _print(table_console(), report, target_url)
    _carry_embedded_secret(target_url, store.settings, console)
    return 0


def _print(console: Console, report: RebuildReport, target_url: str) -> None:
    where = sa.make_url(target_url).render_as_string(hide_password=True)
    table = Table("table", "rows", title=f"Rebuilt {where} in {report.seconds:.1f} s")
    table.add_row("events (copied, same positions)", f"{report.events:,}")
    table.add_row("  of which transactions / labels", f"{report.transactions:,} / {report.labels:,}")
    table.add_row("model_versions (copied)", f"{report.versions:,}")
    table.add_row("predictions (recomputed)", f"{report.predictions:,}")
    table.add_row("alerts (recomputed, marked sent, not re-sent)", f"{report.alerts:,}")
    console.print(table)


def _carry_embedded_secret(target_url: str, settings: Settings, console: Console) -> None:
    """In embedded mode the secret lives beside the SQLite file; a rebuilt SQLite file needs the same one, or
    none of the copied artifacts would verify when the embedded mode opens it."""
    path = sqlite_path(target_url)
    secret_key = settings.secret_key
    if path is None or not settings.secret_key_generated:
        console.print("the copied artifacts are signed with this deployment's FRAUDLOG_SECRET_KEY: use the same "
                      "key with the rebuilt database")
        return
    secret_file = path.with_name(path.name + ".secret")
    if secret_file.exists():
        if secret_file.read_bytes().strip() != secret_key:
            console.print(f"warning: {secret_file} holds another secret key; the copied artifacts will not verify "
                          "under it", style="yellow")
        return
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret_key)
    console.print(f"wrote the secret key the artifacts are signed with to {secret_file} (mode 600)")
