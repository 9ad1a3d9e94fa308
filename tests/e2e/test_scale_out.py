"""The production shape on this machine: real processes on Postgres and RabbitMQ, with crashes.

2 API processes, 3 worker processes, the scheduler and 2 relays; 8 concurrent clients post 50,000
transactions with labels; one worker and one relay are killed with SIGKILL midway and restarted. At the
end every transaction has exactly one champion prediction, every alert reached the receiver exactly once
after deduplication, and a replay of the log reports no difference.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.alerts.relay import webhook_secret
from fraudlog.api.server import free_port
from fraudlog.config import Settings
from fraudlog.store.tables import alerts, predictions
from tests.support.models import SECRET, install_version, synthetic_rows
from tests.support.processes import REPO, kill, service_env, wait_until
from tests.support.receiver import WebhookReceiver

# Exclusive: ten processes and a delivery deadline, which a loaded machine (the parallel run) stretches
# beyond it; it runs alone, after the parallel run.
pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.slow, pytest.mark.exclusive]

TRANSACTIONS = int(os.environ.get("FRAUDLOG_SCALE_TEST_TRANSACTIONS", "50000"))
CLIENTS = 8
BATCH = 250
KEY = "test-key"


@contextmanager
def process(*args: str, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            kill(proc, signal.SIGTERM)


def fraudlog(*args: str) -> tuple[str, ...]:
    return ("-m", "fraudlog.cli", *args)


def worker_args() -> tuple[str, ...]:
    return ("-m", "dramatiq", "fraudlog.workers.actors", "--processes", "1", "--threads", "4")


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        champion, distinct = conn.execute(sa.select(sa.func.count(), sa.func.count(sa.distinct(
            predictions.c.transaction_id))).where(predictions.c.champion)).one()
        sent = conn.execute(sa.select(sa.func.count()).select_from(alerts).where(alerts.c.status == "sent")).scalar()
        total = conn.execute(sa.select(sa.func.count()).select_from(alerts)).scalar()
    return {"champion": champion, "distinct": distinct, "alerts_sent": int(sent or 0), "alerts": int(total or 0)}


def post_all(url: str, rows: list[tuple[dict[str, Any], bool]]) -> list[int]:
    batches = [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]
    lock = threading.Lock()
    statuses: list[int] = []

    def send(batch: list[tuple[dict[str, Any], bool]]) -> None:
        with httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {KEY}"}) as client:
            codes = [client.post("/v1/transactions", json=[b for b, _ in batch]).status_code,
                     client.post("/v1/labels", json=[{"transaction_id": b["transaction_id"], "is_fraud": y}
                                                     for b, y in batch]).status_code]
        with lock:
            statuses.extend(codes)

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(send, batches))
    return statuses


def test_many_processes_one_truth(pg_url: str, pg_engine: Engine, rabbitmq_url: str) -> None:
    install_version(pg_engine, model="logreg", alert_rate=0.02)
    secret = webhook_secret(Settings(secret_key=SECRET))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    rows = synthetic_rows(TRANSACTIONS, seed=41, cards=2_000)
    with WebhookReceiver(secret) as receiver, ExitStack() as stack:
        env = service_env(pg_url, rabbitmq_url, FRAUDLOG_ALERT_SINK=receiver.url, FRAUDLOG_SWEEP_GRACE="5",
                          FRAUDLOG_RETRAIN_EVERY="3600s", FRAUDLOG_ALERT_VISIBILITY_TIMEOUT="5",
                          FRAUDLOG_ALERT_TIMEOUT="2", FRAUDLOG_API_KEYS=f"test:admin:{KEY}")
        stack.enter_context(process(*fraudlog("serve", "--port", str(port), "--workers", "2"), env=env))
        workers = [stack.enter_context(process(*worker_args(), env=env)) for _ in range(3)]
        stack.enter_context(process(*fraudlog("scheduler", "--sweep-every", "3", "--alerts-every", "2"), env=env))
        relays = [stack.enter_context(process(*fraudlog("relay"), env=env)) for _ in range(2)]
        wait_until(lambda: _healthy(url), timeout=60, message="the API to start")

        poster = threading.Thread(target=lambda: statuses.extend(post_all(url, rows)))
        statuses: list[int] = []
        poster.start()
        wait_until(lambda: counts(pg_engine)["champion"] > TRANSACTIONS // 4, timeout=300,
                   message="a quarter of the stream scored")
        kill(workers[0], signal.SIGKILL)  # mid-stream: its unacked doorbells go back to the queue
        kill(relays[0], signal.SIGKILL)  # its leased alerts come back after the visibility timeout
        stack.enter_context(process(*worker_args(), env=env))
        stack.enter_context(process(*fraudlog("relay"), env=env))
        poster.join()
        wait_until(lambda: counts(pg_engine)["champion"] >= TRANSACTIONS, timeout=600,
                   message="every transaction scored")
        wait_until(lambda: (c := counts(pg_engine))["alerts_sent"] == c["alerts"], timeout=120,
                   message="every alert delivered")
        time.sleep(1)
        final = counts(pg_engine)
        delivered = receiver.delivered_keys
    assert set(statuses) <= {200, 202} and len(statuses) == 2 * len(range(0, TRANSACTIONS, BATCH))
    assert final["champion"] == final["distinct"] == TRANSACTIONS
    assert final["alerts"] > 0 and len(delivered) == len(set(delivered)) == final["alerts"]
    with pg_engine.connect() as conn:
        assert set(delivered) == set(conn.execute(sa.select(alerts.c.id)).scalars())
    replay = subprocess.run([sys.executable, "-m", "fraudlog.cli", "replay"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=600)
    assert replay.returncode == 0, replay.stdout[-3000:] + replay.stderr[-3000:]


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
