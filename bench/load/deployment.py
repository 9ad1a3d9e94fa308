"""End-to-end scoring through a running deployment: post transactions, wait until every one is scored.

A deployment is real processes on a fresh database with a trained champion: on SQLite, `fraudlog serve`
in embedded mode (memory:// broker, scoring threads in the API process); on Postgres, `fraudlog serve`
and `dramatiq workers.actors` on a real broker. Used by `bench.e2e` and `bench.scale`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench.load.databases import fresh_database
from bench.load.services import DEFAULT_AMQP, fraudlog_serve, free_port, service_env, wait_until, worker_processes
from service.domain.events import format_time
from service.store.engine import create_engine
from service.store.stats import percentiles
from service.store.tables import predictions
from tests.support.models import SECRET, install_version

Rows = list[tuple[dict[str, Any], bool]]
BENCH_KEY = "bench-key"


@contextlib.contextmanager
def deployment(backend: str, url: str, *, workers: int = 1, api_processes: int = 1,
               broker: str = DEFAULT_AMQP) -> Iterator[str]:
    """The processes of one deployment on `url`; yields the API's base URL."""
    env = service_env(url, "memory://" if backend == "sqlite" else broker,
                      FRAUDLOG_SECRET_KEY=SECRET.decode(),  # the key install_version signs with
                      # its own queues: a previous deployment's leftover doorbells must not reach this one
                      FRAUDLOG_QUEUE_PREFIX=f"bench-{os.getpid()}-{free_port()}",
                      FRAUDLOG_ALERT_SINK="memory://", FRAUDLOG_RETRAIN_EVERY="86400s",
                      FRAUDLOG_LOG_LEVEL="WARNING", FRAUDLOG_RATE_LIMIT="0")
    if backend != "sqlite":
        env["FRAUDLOG_API_KEYS"] = f"bench:admin:{BENCH_KEY}"
    with tempfile.TemporaryDirectory(prefix="fraudlog-bench-logs-") as logs, contextlib.ExitStack() as stack:
        server = stack.enter_context(fraudlog_serve(env, Path(logs), workers=api_processes))
        if backend != "sqlite":
            stack.enter_context(worker_processes(env, workers))
        yield server.base_url


def champion_predictions(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(predictions)
                                .where(predictions.c.champion)).scalar_one())


@contextlib.contextmanager
def served(backend: str, **shape: Any) -> Iterator[tuple[sa.Engine, httpx.Client]]:
    """A fresh database with a trained champion, a running deployment on it, and a client for its API."""
    with fresh_database(backend, prefix="fraudlog_e2e") as db:
        engine = create_engine(db.url)
        install_version(engine, model="hst")
        try:
            with deployment(backend, db.url, **shape) as base, httpx.Client(
                    base_url=base, timeout=120, headers={"Authorization": f"Bearer {BENCH_KEY}"}) as client:
                warm_up(engine, client)
                yield engine, client
        finally:
            engine.dispose()


def warm_up(engine: sa.Engine, client: httpx.Client) -> None:
    """One transaction through the deployment before measuring: the workers have booted and loaded the model,
    so the figures are the steady state's, not a process start's (about 1.6 s on Postgres + RabbitMQ)."""
    client.post("/v1/transactions", json={"transaction_id": "bench-warm-up", "amount": 1.0,
                                          "event_time": format_time(datetime.now(UTC))})
    wait_until(lambda: champion_predictions(engine) >= 1, 120, "the warm-up transaction scored")


def throughput(backend: str, rows: Rows, **shape: Any) -> float:
    """Transactions per second from the first POST (batches of 1,000) to the last champion prediction."""
    with served(backend, **shape) as (engine, client):
        started = time.perf_counter()
        for i in range(0, len(rows), 1_000):
            response = client.post("/v1/transactions", json=[b for b, _ in rows[i : i + 1_000]])
            assert response.status_code == 202, response.text
        wait_until(lambda: champion_predictions(engine) >= len(rows) + 1, 600, "every transaction scored")
        elapsed = time.perf_counter() - started
    return len(rows) / elapsed


def latency(backend: str, rows: Rows, rate: float, **shape: Any) -> dict[str, dict[str, float | None]]:
    """Event-to-prediction and recorded-to-prediction p50/p99 (seconds) while offering `rate` tx/s for 10 s."""
    batch, period = max(1, int(rate / 20)), 0.05
    with served(backend, **shape) as (engine, client):
        started, sent = time.perf_counter(), 0
        while sent + batch <= len(rows) and time.perf_counter() - started < 10:
            now = format_time(datetime.now(UTC))
            client.post("/v1/transactions", json=[{**b, "event_time": now} for b, _ in rows[sent : sent + batch]])
            sent += batch
            time.sleep(max(0.0, started + (sent / batch) * period - time.perf_counter()))
        wait_until(lambda: champion_predictions(engine) >= sent + 1, 120, "every transaction scored")
        with engine.connect() as conn:
            samples = conn.execute(sa.select(predictions.c.scored_at, predictions.c.event_time,
                                             predictions.c.recorded_at).where(predictions.c.champion)).all()
    return {"event_to_prediction": percentiles([(s - e).total_seconds() for s, e, _ in samples], (50, 99)),
            "recorded_to_prediction": percentiles([(s - r).total_seconds() for s, _, r in samples], (50, 99))}
