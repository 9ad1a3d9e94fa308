"""The learning loop as a deployment runs it: Postgres + RabbitMQ, real processes, a retrain every N events.

    python -m bench.quality_pg [--source sample|synthetic] [--rows N] [--retrain-every 10000] [--idle 60]

`fraudlog train --csv` (sample) or the same import path (synthetic, with cards) makes version 1 from the
first 10,000 rows; then `fraudlog serve`, `dramatiq fraudlog.workers.actors` and `fraudlog scheduler` run with
FRAUDLOG_RETRAIN_EVERY=<N>events while the rest of the rows stream through the API with each label 1,000
transactions late. After the last transaction is scored the deployment idles for `--idle` seconds, so a
scheduler that retrains the same range again (the old defect: 30 identical challengers in 5 minutes) shows.

Reports the versions created (during the stream and while idle), every decision with its evidence, the
champions' pooled ROC AUC and alert rate, and each version's served ROC AUC.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bench.load.corpus import SAMPLE_CSV
from bench.load.databases import fresh_database
from bench.load.deployment import champion_predictions
from bench.load.results import write_results
from bench.load.services import DEFAULT_AMQP, REPO, fraudlog_serve, free_port, service_env, wait_until, worker_processes
from fraudlog.client import FraudlogClient, stream
from fraudlog.lifecycle.first_version import train_first_version
from fraudlog.ml.datasets import creditcard_transactions, synthetic_stream
from fraudlog.ml.specs import spec_for
from fraudlog.models.registry import ModelRegistry
from fraudlog.store.engine import create_engine
from fraudlog.store.stats import model_quality, served_quality
from fraudlog.views.models import describe_decision

TRAIN_ROWS, LABEL_DELAY, BATCH = 10_000, 1_000, 250
KEY = "bench-quality"
START = datetime(2013, 9, 1, tzinfo=UTC)


def run(source: str, rows: int, retrain_every: int, idle: float, rate: float, console: Console) -> dict[str, Any]:
    with fresh_database("postgres", prefix="fraudlog_quality") as db, ExitStack() as stack:
        env = service_env(db.url, DEFAULT_AMQP, FRAUDLOG_QUEUE_PREFIX=f"bench-quality-{free_port()}",
                          FRAUDLOG_API_KEYS=f"bench:admin:{KEY}", FRAUDLOG_ALERT_SINK="memory://",
                          FRAUDLOG_RETRAIN_EVERY=f"{retrain_every}events", FRAUDLOG_LOG_LEVEL="WARNING",
                          FRAUDLOG_RATE_LIMIT="0")
        data = _rows(source, rows)
        engine = create_engine(db.url)
        registry = ModelRegistry(engine, env["FRAUDLOG_SECRET_KEY"].encode())
        began = time.perf_counter()
        if source == "sample":  # the CLI path, as a user runs it
            subprocess.run([sys.executable, "-m", "fraudlog.cli", "train", "--csv", str(SAMPLE_CSV), "--rows",
                            str(TRAIN_ROWS)], env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        else:
            train_first_version(registry, data[:TRAIN_ROWS], spec_for("logreg"))
        console.print(f"version 1 in {time.perf_counter() - began:.1f} s")
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fraudlog-quality-")))
        server = stack.enter_context(fraudlog_serve(env, logs))
        stack.enter_context(worker_processes(env, 1, threads=4))
        scheduler = subprocess.Popen([sys.executable, "-m", "fraudlog.cli", "scheduler"], env=env, cwd=REPO,
                                     stdout=(logs / "scheduler.log").open("w"), stderr=subprocess.STDOUT)
        stack.callback(lambda: (scheduler.terminate(), scheduler.wait(timeout=30)))
        client = FraudlogClient(server.base_url, api_key=KEY)
        streamed = data[TRAIN_ROWS:]
        with Progress(console=console) as progress:
            task = progress.add_task("streaming", total=len(streamed))
            stream(client, streamed, batch_size=BATCH, rate=rate, label_delay_events=LABEL_DELAY,
                   progress=lambda n: progress.advance(task, n))
        wait_until(lambda: champion_predictions(engine) >= len(streamed), 900, "every transaction scored", 1.0)
        versions_at_end = len(registry.list())
        console.print(f"stream scored; {versions_at_end} versions; idling {idle:.0f} s")
        time.sleep(idle)
        client.close()
        return _report(engine, registry, versions_at_end, len(streamed))


def _rows(source: str, rows: int) -> list[tuple[dict[str, Any], bool]]:
    if source == "sample":
        return list(creditcard_transactions(SAMPLE_CSV, start=START, limit=rows))
    return list(synthetic_stream(rows, start=START, cards=max(50, rows // 40)))


def _report(engine: Any, registry: ModelRegistry, versions_at_end: int, streamed: int) -> dict[str, Any]:
    table = registry.assignments()
    with engine.connect() as conn:
        served = served_quality(conn)
        per_version = model_quality(conn)
    versions = []
    for record in registry.list():
        decisions = [{"position": c.position, "role": c.role, **(msgspec.to_builtins(c.decision) if c.decision else {})}
                     for c in table.changes_of(record.version)]
        versions.append({"version": record.version, "status": table.status_of(record.version),
                         "cut": record.watermark, "labels_learned": record.training_data.label_count,
                         "served": per_version.get(record.version), "decisions": decisions})
    return {"streamed": streamed, "versions_created": len(versions), "versions_at_end_of_stream": versions_at_end,
            "served": served, "versions": versions}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.quality_pg", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--source", choices=["sample", "synthetic"], default="sample")
    parser.add_argument("--rows", type=int, default=30_000, help="rows in all, the first 10,000 for version 1")
    parser.add_argument("--retrain-every", type=int, default=10_000)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds to idle after the stream is scored")
    parser.add_argument("--rate", type=float, default=2_000.0, help="transactions per second to stream")
    args = parser.parse_args()
    console = Console()
    result = run(args.source, args.rows, args.retrain_every, args.idle, args.rate, console)
    served = result["served"]
    console.print(f"[bold]{args.source}[/]: {result['streamed']:,} streamed; champions' ROC AUC "
                  f"{_fmt(served['roc_auc'])} on {served['labels']:,} labels ({served['frauds']} frauds); alert rate "
                  f"{served['alert_rate']:.2%}; versions created {result['versions_created']} "
                  f"({result['versions_at_end_of_stream']} when the stream was scored, "
                  f"{result['versions_created'] - result['versions_at_end_of_stream']} while idle)")
    table = Table("version", "status", "cut", "labels learned", "served ROC AUC", "alert rate", "decisions")
    for v in result["versions"]:
        live = v["served"] or {}
        table.add_row(str(v["version"]), str(v["status"]), str(v["cut"]), str(v["labels_learned"]),
                      _fmt(live.get("roc_auc")), "-" if live.get("alert_rate") is None else f"{live['alert_rate']:.2%}",
                      "; ".join(describe_decision(d) for d in v["decisions"]))
    console.print(table)
    console.print(f"results: {write_results('quality_pg', result)}")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    main()
