"""End-to-end scoring through a running deployment: post transactions, wait until every one is scored.

A deployment is real processes on a fresh database with a trained champion: on SQLite, `fraudlog serve`
in embedded mode (memory:// broker, scoring threads in the API process); on Postgres, `fraudlog serve`
and `dramatiq fraudlog.workers.actors` on a real broker. Used by `bench.e2e` and `bench.scale`.
"""

from __future__ import annotations

import contextlib
import gc
import os
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
import sqlalchemy as sa

from bench.load.cpu import CpuSnapshot
from bench.load.databases import fresh_database
from bench.load.services import DEFAULT_AMQP, fraudlog_serve, free_port, service_env, wait_until, worker_processes
from fraudlog.domain.events import format_time
from fraudlog.store.engine import create_engine
from fraudlog.store.stats import percentiles
from fraudlog.store.tables import predictions
from tests.support.models import SECRET, install_version

Rows = list[tuple[dict[str, Any], bool]]
BENCH_KEY = "bench-key"


@dataclass
class Deployment:
    """A running deployment: the API's base URL and the process ids whose CPU it spends."""

    base_url: str
    pids: list[int] = field(default_factory=list)  # the API's and the workers' (each with its children)
    database: str | None = None  # the Postgres database, whose backends' CPU is counted too


@contextlib.contextmanager
def deployment(backend: str, url: str, *, workers: int = 1, api_processes: int = 1,
               broker: str = DEFAULT_AMQP) -> Iterator[Deployment]:
    """The processes of one deployment on `url`."""
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
        running = Deployment(server.base_url, [server.pid],
                             None if backend == "sqlite" else sa.make_url(url).database)
        if backend != "sqlite":
            running.pids.append(stack.enter_context(worker_processes(env, workers)).pid)
        yield running


def champion_predictions(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(predictions)
                                .where(predictions.c.champion)).scalar_one())


@contextlib.contextmanager
def served(backend: str, **shape: Any) -> Iterator[tuple[sa.Engine, httpx.Client, Deployment]]:
    """A fresh database with a trained champion, a running deployment on it, and a client for its API."""
    with fresh_database(backend, prefix="fraudlog_e2e") as db:
        engine = create_engine(db.url)
        install_version(engine, model="hst")
        try:
            with deployment(backend, db.url, **shape) as running, httpx.Client(
                    base_url=running.base_url, timeout=120,
                    headers={"Authorization": f"Bearer {BENCH_KEY}"}) as client:
                warm_up(engine, client)
                yield engine, client, running
        finally:
            engine.dispose()


def warm_up(engine: sa.Engine, client: httpx.Client) -> None:
    """One transaction through the deployment before measuring: the workers have booted and loaded the model,
    so the figures are the steady state's, not a process start's (about 1.6 s on Postgres + RabbitMQ)."""
    client.post("/v1/transactions", json={"transaction_id": "bench-warm-up", "amount": 1.0,
                                          "event_time": format_time(datetime.now(UTC))})
    wait_until(lambda: champion_predictions(engine) >= 1, 120, "the warm-up transaction scored")


@dataclass
class Throughput:
    """One end-to-end run: transactions per second, and the CPU it took per transaction."""

    rate: float
    deployment_micros: float  # API and workers, per transaction
    postgres_micros: float  # the database's backends (0 on SQLite, where the database is the API process)
    client_micros: float  # this process: encoding and posting the batches, polling for the end

    @property
    def cpu_micros(self) -> float:
        return self.deployment_micros + self.postgres_micros


def throughput(backend: str, rows: Rows, **shape: Any) -> Throughput:
    """Transactions per second from the first POST (batches of 1,000) to the last champion prediction, and
    the CPU seconds per transaction the deployment and its database spent meanwhile (from /proc)."""
    bodies = [msgspec.json.encode([b for b, _ in rows[i : i + 1_000]]) for i in range(0, len(rows), 1_000)]
    with served(backend, **shape) as (engine, client, running):
        before = CpuSnapshot.take(running.pids, running.database)
        started = time.perf_counter()
        for body in bodies:
            response = client.post("/v1/transactions", content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 202, response.text
        wait_until(lambda: champion_predictions(engine) >= len(rows) + 1, 600, "every transaction scored",
                   interval=0.05)
        elapsed = time.perf_counter() - started
        after = CpuSnapshot.take(running.pids, running.database)
    per_tx = 1e6 / len(rows)
    return Throughput(len(rows) / elapsed, (after.server - before.server) * per_tx,
                      (after.postgres - before.postgres) * per_tx, (after.client - before.client) * per_tx)


def latency(backend: str, rows: Rows, rate: float, *, batch: int | None = None,
            **shape: Any) -> dict[str, Any]:
    """Event-to-prediction and recorded-to-prediction p50/p99 (seconds) while offering `rate` tx/s for 10 s,
    in POSTs of `batch` transactions (default: 20 POSTs a second), and the rate actually offered.

    Open loop: each POST leaves at its scheduled time from a pool of client threads, whether or not the ones
    before it were answered, so a slow answer delays nobody else's send (a client that waits for each answer
    before the next would offer less than `rate` exactly when the service slows down).
    """
    batch = batch or max(1, int(rate / 20))
    period = batch / rate
    posts = min(len(rows) // batch, int(10 / period))
    # The client's own full garbage collections (~100 ms each over this process's imports) would delay sends
    # after their event_time was stamped, and count as the service's latency: freeze what is here already.
    gc.collect()
    gc.freeze()
    with served(backend, **shape) as (engine, client, _running), ThreadPoolExecutor(16) as senders:
        def send(first: int) -> int:
            now = format_time(datetime.now(UTC))
            body = msgspec.json.encode([{**b, "event_time": now} for b, _ in rows[first : first + batch]])
            return client.post("/v1/transactions", content=body,
                               headers={"Content-Type": "application/json"}).status_code

        started = time.perf_counter()
        answers = []
        for number in range(posts):
            time.sleep(max(0.0, started + number * period - time.perf_counter()))
            answers.append(senders.submit(send, number * batch))
        offered = posts * batch / (time.perf_counter() - started)
        assert all(answer.result() == 202 for answer in answers)
        wait_until(lambda: champion_predictions(engine) >= posts * batch + 1, 120, "every transaction scored")
        with engine.connect() as conn:
            samples = conn.execute(sa.select(predictions.c.scored_at, predictions.c.event_time,
                                             predictions.c.recorded_at).where(predictions.c.champion)).all()
    return {"event_to_prediction": percentiles([(s - e).total_seconds() for s, e, _ in samples], (50, 99)),
            "recorded_to_prediction": percentiles([(s - r).total_seconds() for s, _, r in samples], (50, 99)),
            "offered_per_s": offered}
