"""`fraudlog demo`: the embedded default end to end, on a fresh SQLite file and the in-process broker.

Trains version 1 on the first part of a synthetic stream (or a creditcard.csv file), serves the API with
its worker threads, streams the rest through HTTP while a simulated card business hands the truth back
(customers answering alerts, analysts, late chargebacks, imported labels: `service/cli/card_business.py`),
waits until every transaction is scored and labelled, and prints what happened, with the labels by source.
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from fraudlog.alerts.relay import deliver_pending
from fraudlog.api.server import serve_in_thread
from fraudlog.cli.card_business import CHARGEBACK_DELAY, CardBusiness, Tally
from fraudlog.cli.context import open_store
from fraudlog.cli.output import table_console
from fraudlog.cli.quality import source_table
from fraudlog.client import FraudlogClient, ModelSummary, Stats, StreamReport, stream
from fraudlog.composition import StoreServices, build_app, build_sink
from fraudlog.config import Settings
from fraudlog.domain.assignment import CHALLENGER
from fraudlog.domain.events import LabelledTransaction, format_time
from fraudlog.domain.records import Decision
from fraudlog.lifecycle.first_version import train_first_version
from fraudlog.lifecycle.roles import assign_role
from fraudlog.lifecycle.versions import train_version
from fraudlog.logs import JsonFormatter
from fraudlog.ml.datasets import creditcard_transactions, synthetic_stream
from fraudlog.ml.specs import BUILT_IN, DEFAULT_MODEL, ModelSpec, spec_for
from fraudlog.replay.backtest import backtest
from fraudlog.store.event_log import last_position
from fraudlog.store.lifecycle import window_start
from fraudlog.store.outbox import AlertCoverage, alert_coverage
from fraudlog.store.stats import VersionQuality, served_quality
from fraudlog.views.models import describe_decision
from fraudlog.views.source_quality import LabelSourcesQuality, label_sources_quality
from fraudlog.workers.wiring import broker_wiring

BATCH = 250
# The generators need a start; every event time is then put on the demo's own clock (`_on_clock`).
CLOCK_ORIGIN = datetime(2026, 11, 1, tzinfo=UTC)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="run the embedded default end to end and show the results")
    parser.add_argument("--rows", type=int, default=20_000, help="transactions to stream after training")
    parser.add_argument("--train-rows", type=int, default=10_000, help="transactions to train version 1 on")
    parser.add_argument("--csv", default=None, help="use a creditcard.csv file instead of the synthetic stream")
    parser.add_argument("--model", choices=BUILT_IN, default=DEFAULT_MODEL,
                        help=f"the built-in model spec to train (default {DEFAULT_MODEL})")
    parser.add_argument("--rate", type=float, default=1_000.0,
                        help="transactions per second to stream; event times follow this clock (default 1,000)")
    parser.add_argument("--db", default="./fraudlog-demo.db", help="the SQLite file (recreated)")
    parser.add_argument("--port", type=int, default=8000, help="the port the API listens on (default 8000)")
    parser.add_argument("--label-delay", type=int, default=1_000,
                        help="the labels no customer or analyst gave are imported N transactions later; "
                             f"chargebacks come {CHARGEBACK_DELAY} times as late (default 1,000)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the simulated customers' answers, analysts' reviews and chargebacks (default 0)")
    parser.add_argument("--retrain-every", type=int, default=None,
                        help="retrain after N new transactions (default: a quarter of --rows, at least 1,000)")
    parser.add_argument("--no-serve", action="store_true", help="exit after the summary")
    parser.set_defaults(run=_demo)


def _demo(args: argparse.Namespace) -> int:
    console = table_console()  # the summary's tables print whole off a terminal
    retrain_every = args.retrain_every or max(1_000, args.rows // 4)
    db = Path(args.db)
    settings = _fresh_settings(db, retrain_every)
    log_file = _logs_to_file(db.with_suffix(".log"))
    rows = _rows(args)
    gap = 1.0 / args.rate
    training = _on_clock(rows[: args.train_rows], datetime.now(UTC) - timedelta(seconds=args.train_rows * gap), gap)
    store = open_store(settings)
    console.print(f"[bold]fraudlog demo[/]: SQLite at {args.db}, in-process broker, logs in {log_file}; "
                  f"importing {len(training):,} labelled transactions and training {args.model} on them")
    spec = spec_for(args.model).with_categories(settings.card_categories)
    result = train_first_version(store.registry, training, spec, id_prefix="")
    twin = _twin_without_card_categories(store, spec, result.version)
    auc = result.metrics["prequential_roc_auc"]
    console.print(f"version {result.version}: prequential ROC AUC {'-' if auc is None else f'{auc:.4f}'}, "
                  f"threshold {result.threshold:.4g} for a {result.metrics['target_alert_rate']:.0%} alert rate; "
                  f"retraining every {retrain_every:,} transactions (new versions enter as challengers)")
    if twin is not None:
        console.print(f"version {twin}: the same model without the per-card categorical features "
                      f"({', '.join(spec.categories)}), a challenger scoring the same stream in shadow")
    with serve_in_thread(build_app(settings, wiring=broker_wiring), args.port) as url:
        client = FraudlogClient(url)
        # Event times near now, on the stream's own clock: a batch is sent once its last event time has passed.
        streaming = _on_clock(rows[args.train_rows :], datetime.now(UTC) - timedelta(seconds=BATCH * gap), gap)
        business = CardBusiness(client, label_delay=args.label_delay, seed=args.seed)
        report = _stream(console, client, streaming, business, args.rate)
        waited = _wait_until_scored(console, client, len(streaming))
        # The last alerts are delivered now, not at the scheduler's next run, so their customers can answer.
        deliver_pending(store.engine, build_sink(settings))
        report.labels += business.finish()
        _wait_for_evidence(client)
        with store.engine.connect() as conn:
            served = served_quality(conn)
        coverage = alert_coverage(store.engine)  # not in /v1/stats, whose body is fixed
        same = _on_the_same_transactions(store, len(streaming) // 4)
        _summary(console, client.stats(), coverage, client.models(), served, same, report, waited, args.csv is None)
        _labels_by_source(console, label_sources_quality(store.engine, None), business.tally, args.seed)
        if twin is not None:
            console.print(f"per-card categorical features on the same transactions (the stream's last quarter): "
                          f"ROC AUC {_fmt(same[result.version][0])} with them (v{result.version}), "
                          f"{_fmt(same[twin][0])} without (v{twin})")
        if not args.no_serve:
            console.print(f"serving on {url} (OpenAPI docs at {url}/schema/swagger); Ctrl-C to stop")
            while True:
                time.sleep(3600)
        client.close()
    return 0


def _twin_without_card_categories(store: StoreServices, spec: ModelSpec, champion: int) -> int | None:
    """Version 1's twin without card categorical features, trained on the same window and entered as a
    challenger: both score every streamed transaction, so the summary shows what those features are worth."""
    if not spec.categories:
        return None
    with store.engine.connect() as conn:
        cut = last_position(conn)
    trained = train_version(store.engine, store.registry.secret_key, spec.with_categories(()), cut=cut,
                            parent=champion)
    trained = msgspec.structs.replace(trained, trigger={"kind": "manual"})
    version = store.registry.versions.add(trained)
    assign_role(store.registry, version, CHALLENGER, Decision(
        kind="manual", action="enter", reason="the demo's twin without card categorical features"))
    return version


def _fresh_settings(db: Path, retrain_every: int) -> Settings:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return Settings.from_env({"FRAUDLOG_DATABASE_URL": f"sqlite:///{db}", "FRAUDLOG_BROKER_URL": "memory://",
                              "FRAUDLOG_ALERT_SINK": f"jsonl://{db.with_suffix('.alerts.jsonl')}",
                              "FRAUDLOG_RETRAIN_EVERY": f"{retrain_every}events"})


def _logs_to_file(path: Path) -> Path:
    """Keep the terminal for progress and the summary: every log line (one per alert, among others) goes to
    `path` as JSON lines, from a fresh file each run.

    Truncated here and appended to by the handler: building the Litestar app applies its logging config,
    which closes every handler, and a closed "w" FileHandler drops records silently where an "a" one reopens
    its file (the demo's log stayed empty, issue 27 #15)."""
    path.write_bytes(b"")
    handler = logging.FileHandler(path, mode="a")
    handler.setFormatter(JsonFormatter())
    for name in ("", "litestar", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = [handler] if name == "" else []
        logger.propagate = name != ""
    return path


def _rows(args: argparse.Namespace) -> list[LabelledTransaction]:
    total = args.train_rows + args.rows
    if args.csv:
        return list(islice(creditcard_transactions(args.csv, start=CLOCK_ORIGIN, cards=200), total))
    return list(synthetic_stream(total, start=CLOCK_ORIGIN, cards=max(50, total // 40)))


def _on_clock(rows: list[LabelledTransaction], start: datetime, gap: float) -> list[LabelledTransaction]:
    """The rows with event times `gap` seconds apart from `start`, in their order.

    The demo compresses days of payments into seconds, so each row's event time is where it stands in the
    stream: its card's history keeps its order and its relative spacing (a burst of frauds minutes apart
    stays closer together than a card's habitual payments hours apart), and the event-to-prediction latency
    the dashboard shows is the platform's own.
    """
    return [({**body, "event_time": format_time(start + timedelta(seconds=i * gap))}, is_fraud)
            for i, (body, is_fraud) in enumerate(rows)]


def _stream(console: Console, client: FraudlogClient, rows: list[LabelledTransaction],
            business: CardBusiness, rate: float) -> StreamReport:
    with Progress(console=console, transient=False) as progress:
        task = progress.add_task("streaming transactions", total=len(rows))
        return stream(client, rows, batch_size=BATCH, rate=rate, labeller=business,
                      progress=lambda n: progress.advance(task, n))


def _wait_for_evidence(client: FraudlogClient, seconds: float = 6.0) -> None:
    """Give the evaluation that follows the last labels a moment (it runs every 2 s in embedded mode)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.5)


def _wait_until_scored(console: Console, client: FraudlogClient, expected: int, timeout: float = 600) -> float:
    started = time.monotonic()
    with Progress(console=console) as progress:
        task = progress.add_task("scoring", total=expected)
        while time.monotonic() - started < timeout:
            stats = client.stats()
            progress.update(task, completed=stats.scored)
            if stats.scored >= expected and stats.backlog.count == 0:
                break
            time.sleep(0.25)
    return time.monotonic() - started


def _on_the_same_transactions(store: StoreServices, transactions: int) -> dict[int, tuple[float | None, int]]:
    """Each version backtested on the same transactions, the stream's newest `transactions`: its ROC AUC
    there, and how many of them lay in its training window (its figure is optimistic on those)."""
    with store.engine.connect() as conn:
        start = window_start(conn, last_position(conn), transactions) + 1
    out = {}
    for record in store.registry.list():
        report = backtest(store.engine, store.registry, record.version, start=start)
        out[record.version] = (report.candidate.get("roc_auc"), report.in_training_range)
    return out


def _summary(console: Console, stats: Stats, coverage: AlertCoverage, models: list[ModelSummary],
             served: VersionQuality, same: dict[int, tuple[float | None, int]], report: StreamReport, waited: float,
             synthetic: bool) -> None:
    latency = stats.latency_seconds
    table = Table("figure", "value", title="fraudlog demo summary")
    table.add_row("transactions streamed", f"{report.sent:,}")
    table.add_row("transactions scored", f"{stats.scored:,}")
    table.add_row("labels posted", f"{report.labels:,}")
    table.add_row("ingest throughput", f"{report.rate:,.0f} transactions/s (paced)")
    table.add_row("end-to-end throughput", f"{report.sent / (report.seconds + waited):,.0f} transactions/s")
    for percentiles, label in ((latency.event_to_prediction, "event"), (latency.recorded_to_prediction, "recorded")):
        table.add_row(f"latency {label} -> scored p50 / p95 / p99",
                      " / ".join("-" if v is None else f"{v * 1000:.0f} ms"
                                 for v in (percentiles.p50, percentiles.p95, percentiles.p99)))
    counts = msgspec.structs.asdict(stats.alerts)
    table.add_row("alerts", ", ".join(f"{name} {count}" for name, count in counts.items()))
    table.add_row("transactions alerted", f"{coverage['covered_transactions']} (covered by "
                                          f"{coverage['alerts']} alerts, one per card per window; "
                                          f"{coverage['updates']} updates)")
    table.add_row("served ROC AUC (the champions' scores)",
                  f"{_fmt(served['roc_auc'])} on {served['labels']:,} labels, {served['frauds']:,} frauds")
    table.add_row("served alert rate", f"{served['alert_rate'] or 0:.2%} (target "
                                       f"{(models[0].target_alert_rate or 0.02):.0%})")
    console.print(table)
    versions = Table("version", "status", "served ROC AUC (labels)", "same tx", "alert rate / target",
                     "last decision",
                     title="model versions: served = on the transactions it scored (champion or shadow); same = "
                           "every version backtested on the stream's last quarter (* = some were in its training "
                           "window)")
    for model in models:
        live = model.live_metrics
        auc = "-" if live.roc_auc is None else f"{live.roc_auc:.4f} ({live.labels:,})"
        target = model.target_alert_rate
        rate = "-" if live.alert_rate is None else f"{live.alert_rate:.2%}"
        backtested, in_training = same.get(model.version, (None, 0))
        versions.add_row(f"v{model.version}", model.status, auc,
                         _fmt(backtested) + ("*" if in_training else ""),
                         f"{rate} / {'-' if target is None else f'{target:.0%}'}",
                         describe_decision(model.last_decision))
    console.print(versions)
    if synthetic:
        console.print("reference (BENCHMARKS.md, Categorical attributes): the same protocol offline (python -m "
                      "bench.learning --csv synthetic --cards 750 --rows 30000 --train-rows 10000 --every 5000 "
                      "--clock-gap 0.001 --card-categories mcc,merchant_id,country,channel,device_id); on the real "
                      "sample logreg serves 0.975")


def _labels_by_source(console: Console, figures: LabelSourcesQuality, tally: Tally, seed: int) -> None:
    console.print(f"the truth came back as a card business's does (seed {seed}; docs/outcomes.md): "
                  f"{tally.customer_answers:,} customer answers to delivered alerts ({tally.wrong_answers:,} wrong), "
                  f"{tally.analyst_reviews:,} analyst reviews, {tally.chargebacks:,} late chargebacks and "
                  f"{tally.imports:,} imported labels; the precedence rule (chargeback > analyst > customer > "
                  f"import) decides the effective labels, which the loop learns from")
    console.print(source_table(figures.effective, figures.sources,
                               "labels by source, and the served scores judged on each source's verdicts"))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
