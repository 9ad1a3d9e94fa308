"""End-to-end scoring: HTTP batch ingest until every event is scored, latency at a fixed rate, bare limit.

    python -m bench.e2e [--backends sqlite postgres] [--events 20000] [--repeats 3] [--rate 1000]

Deployments measured, each with real processes:
- sqlite: `fraudlog serve` on SQLite with the memory:// broker (embedded: worker threads in the API process)
- postgres: `fraudlog serve` on Postgres + RabbitMQ, and one `dramatiq workers.actors` process (8 threads)

For each: (1) throughput: post N transactions in batches of 1,000 as fast as the API takes them, and time
from the first POST to the last champion prediction; (2) latency: offer `--rate` transactions per second
for 10 s (batches of 50 every 50 ms, event_time = send time) and read event-to-prediction and
recorded-to-prediction percentiles from the predictions table. In the same run, the bare limit: one
process that reads the same transactions, computes the same features, calls River's `score_one` and
inserts events and predictions in batches of 1,000, with no HTTP, broker or workers.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from service.api.server import free_port
from service.domain.events import EVENT_TRANSACTION, NewEvent, TransactionIn, canonical_transaction, digest, format_time
from service.domain.features import TxView, batch_features, history_query
from service.ml.specs import score_one
from service.store import migrate
from service.store.engine import create_engine, write_transaction
from service.store.event_log import EventLog
from service.store.history import fetch_history
from service.store.predictions import insert_predictions
from service.store.registry import ModelRegistry
from service.store.stats import percentiles
from service.store.tables import predictions
from tests.support.models import install_version, synthetic_rows

PG_ADMIN = os.environ.get("FRAUDLOG_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP = os.environ.get("FRAUDLOG_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672/")
SECRET = "test-secret"  # the key tests.support.models signs its versions with
REPO = Path(__file__).resolve().parents[1]


@contextmanager
def database(backend: str, workdir: Path, tag: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / f'{tag}.db'}"
        return
    name = f"fraudlog_e2e_{os.getpid()}_{tag}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def deployment(backend: str, url: str, *, workers: int = 1, api_processes: int = 1,
               broker: str = AMQP) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "FRAUDLOG_DATABASE_URL": url, "FRAUDLOG_SECRET_KEY": SECRET,
           "FRAUDLOG_BROKER_URL": "memory://" if backend == "sqlite" else broker,
           "FRAUDLOG_QUEUE_PREFIX": f"bench-{os.getpid()}-{port}", "FRAUDLOG_ALERT_SINK": "memory://",
           "FRAUDLOG_RETRAIN_EVERY": "86400s", "FRAUDLOG_LOG_LEVEL": "WARNING", "FRAUDLOG_RATE_LIMIT": "0"}
    if backend != "sqlite":
        env["FRAUDLOG_API_KEYS"] = "bench:admin:bench-key"
    procs = [subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers",
                               str(api_processes)], cwd=REPO, env=env, start_new_session=True,
                              stderr=subprocess.DEVNULL)]
    if backend != "sqlite":
        procs.append(subprocess.Popen([sys.executable, "-m", "dramatiq", "workers.actors", "--processes",
                                       str(workers), "--threads", "8"], cwd=REPO, env=env, start_new_session=True,
                                      stderr=subprocess.DEVNULL))
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _up(base), 60)
        yield base
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("timed out")
        time.sleep(0.02)


def scored(engine: sa.engine.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(predictions)
                                .where(predictions.c.champion)).scalar_one())


@contextmanager
def served(backend: str, workdir: Path, tag: str, **shape: Any) -> Iterator[tuple[sa.engine.Engine, httpx.Client]]:
    """A fresh database with a trained champion, a running deployment on it, and a client for its API."""
    with database(backend, workdir, tag) as url:
        engine = create_engine(url)
        migrate.upgrade(engine)
        install_version(engine, model="hst")
        try:
            with deployment(backend, url, **shape) as base, httpx.Client(
                    base_url=base, timeout=120, headers={"Authorization": "Bearer bench-key"}) as client:
                yield engine, client
        finally:
            engine.dispose()


def throughput(backend: str, rows: list[tuple[dict[str, Any], bool]], workdir: Path, tag: str,
               **shape: Any) -> float:
    with served(backend, workdir, tag, **shape) as (engine, client):
        started = time.perf_counter()
        for i in range(0, len(rows), 1_000):
            response = client.post("/v1/transactions", json=[b for b, _ in rows[i : i + 1_000]])
            assert response.status_code == 202, response.text
        _wait(lambda: scored(engine) >= len(rows), 600)
        elapsed = time.perf_counter() - started
    return len(rows) / elapsed


def latency(backend: str, rows: list[tuple[dict[str, Any], bool]], rate: float, workdir: Path, tag: str,
            **shape: Any) -> dict[str, dict[str, float | None]]:
    batch, period = max(1, int(rate / 20)), 0.05
    with served(backend, workdir, tag, **shape) as (engine, client):
        started, sent = time.perf_counter(), 0
        while sent + batch <= len(rows) and time.perf_counter() - started < 10:
            now = format_time(datetime.now(UTC))
            client.post("/v1/transactions", json=[{**b, "event_time": now} for b, _ in rows[sent : sent + batch]])
            sent += batch
            time.sleep(max(0.0, started + (sent / batch) * period - time.perf_counter()))
        _wait(lambda: scored(engine) >= sent, 120)
        with engine.connect() as conn:
            samples = conn.execute(sa.select(predictions.c.scored_at, predictions.c.event_time,
                                             predictions.c.recorded_at).where(predictions.c.champion)).all()
    return {"event_to_prediction": percentiles([(s - e).total_seconds() for s, e, _ in samples], (50, 99)),
            "recorded_to_prediction": percentiles([(s - r).total_seconds() for s, _, r in samples], (50, 99))}


def bare_limit(backend: str, rows: list[tuple[dict[str, Any], bool]], workdir: Path, tag: str) -> float:
    """Events and predictions in batches of 1,000, features and score_one in one process: no HTTP or broker."""
    with database(backend, workdir, tag) as url:
        engine = create_engine(url)
        migrate.upgrade(engine)
        version = install_version(engine, model="hst")
        loaded = ModelRegistry(engine, SECRET.encode()).load(version)
        log = EventLog(engine)
        started = time.perf_counter()
        for i in range(0, len(rows), 1_000):
            txs = [TransactionIn(**{**b, "event_time": datetime.fromisoformat(b["event_time"].replace("Z", "+00:00"))})
                   for b, _ in rows[i : i + 1_000]]
            canon = [canonical_transaction(t) for t in txs]
            [outcome] = log.append_transactions([[NewEvent(EVENT_TRANSACTION, t.transaction_id, t.card_id, t.event_time,
                                                            digest(c), c) for t, c in zip(txs, canon, strict=True)]])
            views = [TxView.from_payload(r.position, c) for r, c in zip(outcome.receipts, canon, strict=True)]
            with write_transaction(engine) as conn:
                query = history_query(views)
                feats = batch_features(views, fetch_history(conn, query) if query else [])
                now = datetime.now(UTC)
                insert_predictions(conn, [
                    {"transaction_id": v.transaction_id, "model_version": version, "position": v.position,
                     "champion": True, "score": score_one(loaded.model, loaded.spec, feats[v.position]),
                     "threshold": loaded.threshold, "features": feats[v.position], "event_time": v.event_time,
                     "recorded_at": now, "scored_at": now} for v in views])
        elapsed = time.perf_counter() - started
        engine.dispose()
    return len(rows) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate", type=float, default=1_000.0)
    args = parser.parse_args()
    console = Console()
    rows = synthetic_rows(args.events, seed=5, cards=2_000)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for backend in args.backends:
            e2e, bare = [], []
            for r in range(args.repeats):
                console.print(f"[{backend}] repeat {r + 1}/{args.repeats}: end to end, then bare limit")
                e2e.append(throughput(backend, rows, workdir, f"e2e{r}"))
                bare.append(bare_limit(backend, rows, workdir, f"bare{r}"))
            console.print(f"[{backend}] latency at {args.rate:g}/s")
            results[backend] = {"e2e": e2e, "bare": bare,
                                "latency": latency(backend, rows, args.rate, workdir, "lat")}
    _print(console, results, args)
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"e2e-{int(time.time())}.json").write_text(json.dumps(results, indent=2))


def _print(console: Console, results: dict[str, Any], args: argparse.Namespace) -> None:
    table = Table("backend", "end to end (tx/s)", "bare limit (tx/s)", "ratio",
                  f"event->prediction p50 / p99 at {args.rate:g}/s", "recorded->prediction p50 / p99",
                  title=f"{args.events:,} transactions, medians of {args.repeats}")
    for backend, r in results.items():
        e2e, bare = statistics.median(r["e2e"]), statistics.median(r["bare"])
        lat = r["latency"]
        table.add_row(backend, f"{e2e:,.0f}", f"{bare:,.0f}", f"{e2e / bare:.0%}",
                      " / ".join(_ms(v) for v in lat["event_to_prediction"].values()),
                      " / ".join(_ms(v) for v in lat["recorded_to_prediction"].values()))
    console.print(table)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


if __name__ == "__main__":
    main()
