"""`fraudlog demo`: the embedded default end to end, on a fresh SQLite file and the in-process broker.

Trains version 1 on the first part of a synthetic stream (or a creditcard.csv file), serves the API with
its worker threads, streams the rest through HTTP with labels arriving later, waits until every
transaction is scored, and prints what happened.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from service.api.app import create_app
from service.api.server import serve_in_thread
from service.bootstrap import train_first_version
from service.cli.context import open_store
from service.client import FraudlogClient, StreamReport, stream
from service.config import Settings
from service.ml.datasets import creditcard_transactions, synthetic_stream
from service.ml.specs import spec_for
from workers.wiring import broker_wiring

DEMO_START = datetime(2026, 11, 1, tzinfo=UTC)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="run the embedded default end to end and show the results")
    parser.add_argument("--rows", type=int, default=20_000, help="transactions to stream after training")
    parser.add_argument("--train-rows", type=int, default=5_000, help="transactions to train version 1 on")
    parser.add_argument("--csv", default=None, help="use a creditcard.csv file instead of the synthetic stream")
    parser.add_argument("--model", choices=["hst", "logreg"], default="hst")
    parser.add_argument("--db", default="./fraudlog-demo.db", help="the SQLite file (recreated)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--label-delay", type=int, default=1_000, help="labels arrive N transactions later")
    parser.add_argument("--retrain-every", type=int, default=None,
                        help="retrain after N new transactions (default: a quarter of --rows, at least 1,000)")
    parser.add_argument("--no-serve", action="store_true", help="exit after the summary")
    parser.set_defaults(run=_demo)


def _demo(args: argparse.Namespace) -> int:
    console = Console()
    retrain_every = args.retrain_every or max(1_000, args.rows // 4)
    settings = _fresh_settings(Path(args.db), retrain_every)
    rows = _rows(args)
    training, streaming = rows[: args.train_rows], rows[args.train_rows :]
    store = open_store(settings)
    console.print(f"[bold]fraudlog demo[/]: SQLite at {args.db}, in-process broker; "
                  f"training {args.model} on {len(training)} transactions")
    result = train_first_version(store.registry, training, spec_for(args.model), source="demo")
    console.print(f"version {result.version}: prequential ROC AUC {result.metrics['prequential_roc_auc']:.4f}, "
                  f"threshold {result.threshold:.4g}; retraining every {retrain_every:,} transactions")
    with serve_in_thread(create_app(settings, wiring=broker_wiring), args.port) as url:
        client = FraudlogClient(url)
        report = _stream(console, client, streaming, args.label_delay)
        waited = _wait_until_scored(console, client, len(streaming))
        _summary(console, client.get("/v1/stats"), client.get("/v1/models"), report, waited)
        if not args.no_serve:
            console.print(f"serving on {url} (OpenAPI docs at {url}/schema/swagger); Ctrl-C to stop")
            while True:
                time.sleep(3600)
        client.close()
    return 0


def _fresh_settings(db: Path, retrain_every: int) -> Settings:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return Settings.from_env({"FRAUDLOG_DATABASE_URL": f"sqlite:///{db}", "FRAUDLOG_BROKER_URL": "memory://",
                              "FRAUDLOG_ALERT_SINK": f"jsonl://{db.with_suffix('.alerts.jsonl')}",
                              "FRAUDLOG_RETRAIN_EVERY": f"{retrain_every}events"})


def _rows(args: argparse.Namespace) -> list[tuple[dict[str, Any], bool]]:
    total = args.train_rows + args.rows
    if args.csv:
        return list(islice(creditcard_transactions(args.csv, start=DEMO_START, cards=200), total))
    return list(synthetic_stream(total, start=DEMO_START, cards=max(50, total // 40)))


def _stream(console: Console, client: FraudlogClient, rows: list[tuple[dict[str, Any], bool]],
            label_delay: int) -> StreamReport:
    with Progress(console=console, transient=False) as progress:
        task = progress.add_task("streaming transactions", total=len(rows))
        return stream(client, rows, batch_size=250, label_delay_events=label_delay,
                      progress=lambda n: progress.advance(task, n))


def _wait_until_scored(console: Console, client: FraudlogClient, expected: int, timeout: float = 600) -> float:
    started = time.monotonic()
    with Progress(console=console) as progress:
        task = progress.add_task("scoring", total=expected)
        while time.monotonic() - started < timeout:
            stats = client.get("/v1/stats")
            progress.update(task, completed=stats["scored"])
            if stats["scored"] >= expected and stats["backlog"]["count"] == 0:
                break
            time.sleep(0.25)
    return time.monotonic() - started


def _summary(console: Console, stats: dict[str, Any], models: list[dict[str, Any]], report: StreamReport,
             waited: float) -> None:
    latency = stats["latency_seconds"]["recorded_to_prediction"]
    table = Table("figure", "value", title="fraudlog demo summary")
    table.add_row("transactions streamed", f"{report.sent:,}")
    table.add_row("transactions scored", f"{stats['scored']:,}")
    table.add_row("labels posted", f"{report.labels:,}")
    table.add_row("ingest throughput", f"{report.rate:,.0f} transactions/s")
    table.add_row("end-to-end throughput", f"{report.sent / (report.seconds + waited):,.0f} transactions/s")
    table.add_row("latency recorded -> scored p50 / p95 / p99",
                  " / ".join("-" if v is None else f"{v * 1000:.0f} ms" for v in latency.values()))
    table.add_row("alerts", ", ".join(f"{k} {v}" for k, v in stats["alerts"].items()))
    for model in models:
        live = model["live_metrics"]
        auc = "-" if live["roc_auc"] is None else f"{live['roc_auc']:.4f}"
        table.add_row(f"model v{model['version']} ({model['status']})",
                      f"ROC AUC {auc} on {live['labels']:,} labels, {live['predictions']:,} predictions, "
                      f"alert rate {live['alert_rate'] or 0:.2%}")
    console.print(table)
