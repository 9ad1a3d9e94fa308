"""The prediction stream in the production shape: real processes on Postgres and RabbitMQ.

Two API processes and two worker processes; 20,000 transactions. One consumer disconnects at random
points and resumes with Last-Event-ID on a randomly chosen API process while one of them is killed with
SIGKILL and restarted: it receives every champion prediction exactly once, in log order. Another consumer
stops reading: it is cut off with its cursor while scoring finishes everything.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.api.server import free_port
from fraudlog.client import ClientError, FraudlogClient, PredictionItem
from fraudlog.sse import parse_events
from fraudlog.store.tables import predictions
from tests.integration.test_prediction_stream import read_to_end, stalled_consumer
from tests.support.models import install_version, synthetic_rows
from tests.support.processes import REPO, kill, log_file, service_env, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.slow]

TRANSACTIONS = int(os.environ.get("FRAUDLOG_FEED_TEST_TRANSACTIONS", "20000"))
KEY = "test-key"


def cut_offs_counted(url: str) -> float:
    """The API process's `fraudlog_stream_consumers_cut_off_total`, from its /metrics."""
    text = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {KEY}"}, timeout=30).text
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith("fraudlog_stream_consumers_cut_off_total"))


@contextmanager
def process(*args: str, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = start(*args, env=env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            kill(proc, signal.SIGTERM)


def start(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=log_file("feed-e2e"))


def api_args(port: int) -> tuple[str, ...]:
    return ("-m", "fraudlog.cli", "serve", "--port", str(port))


def champion_positions(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(predictions.c.position).where(predictions.c.champion)
                                 .order_by(predictions.c.position)).scalars())


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class RestlessConsumer:
    """Reads a random number of predictions, hangs up, and resumes from its cursor on a random API process."""

    def __init__(self, urls: list[str], expected: int) -> None:
        self.urls = urls
        self.expected = expected
        self.received: list[PredictionItem] = []
        self.reconnections = 0
        self.failed_connections = 0
        self.rng = random.Random(7)
        self.next_url: str | None = None  # where the next connection goes, instead of a random choice
        self.stopped = False
        self.client: FraudlogClient | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def stop(self) -> None:
        """Hang up for good (a test that fails must not wait on a stream that will never complete)."""
        self.stopped = True
        if self.client is not None:
            self.client.close()

    def _run(self) -> None:
        cursor = "0"
        while len(self.received) < self.expected and not self.stopped:
            budget = self.rng.randint(1, 3_000)
            url, self.next_url = self.next_url or self.rng.choice(self.urls), None
            with FraudlogClient(url, api_key=KEY) as client:
                self.client = client
                try:
                    for count, item in enumerate(client.follow(cursor, reconnect=False), start=1):
                        self.received.append(item)
                        cursor = client.cursor or cursor
                        if count >= budget or len(self.received) >= self.expected:
                            break
                except (ClientError, RuntimeError):  # that process is down (or we hung up): try again, maybe elsewhere
                    self.failed_connections += 1
                    time.sleep(0.1)
            self.reconnections += 1


def test_a_restless_consumer_gets_every_champion_prediction_once_in_order_across_api_restarts(
        pg_url: str, pg_engine: Engine, rabbitmq_url: str) -> None:
    install_version(pg_engine, model="logreg", alert_rate=0.02)
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    rows = synthetic_rows(TRANSACTIONS, seed=51, cards=2_000)
    env = service_env(pg_url, rabbitmq_url, FRAUDLOG_SWEEP_GRACE="5", FRAUDLOG_RETRAIN_EVERY="3600s",
                      FRAUDLOG_API_KEYS=f"test:admin:{KEY}", FRAUDLOG_STREAM_BUFFER="500")
    with ExitStack() as stack:
        stack.enter_context(process(*api_args(ports[0]), env=env))
        restartable = start(*api_args(ports[1]), env=env)
        for _ in range(2):
            stack.enter_context(process("-m", "dramatiq", "fraudlog.workers.actors", "--processes", "1",
                                        "--threads", "4", env=env))
        stack.enter_context(process("-m", "fraudlog.cli", "scheduler", "--sweep-every", "3", env=env))
        wait_until(lambda: all(healthy(u) for u in urls), timeout=60, message="both API processes to start")

        consumer = RestlessConsumer(urls, TRANSACTIONS)
        consumer.thread.start()
        stalled = stalled_consumer(urls[0], key=KEY)
        with httpx.Client(base_url=urls[0], timeout=60, headers={"Authorization": f"Bearer {KEY}"}) as poster:
            batches = range(0, TRANSACTIONS, 500)
            restarted = False
            for index, begin in enumerate(batches):
                assert poster.post("/v1/transactions", json=[b for b, _ in rows[begin:begin + 500]]).status_code == 202
                if index == len(batches) // 3:
                    kill(restartable, signal.SIGKILL)
                    # Its next connection goes to the dead process: how many it makes while the process is
                    # down depends on timing alone, and a quiet machine had it make none.
                    consumer.next_url = urls[1]
                if index >= len(batches) // 2 and not restarted and consumer.failed_connections > 0:
                    restartable, restarted = start(*api_args(ports[1]), env=env), True
                time.sleep(0.05)  # a stream, not one burst: the consumer reads while the process dies
        if not restarted:
            wait_until(lambda: consumer.failed_connections > 0, timeout=120,
                       message="the consumer to meet the dead process")
            restartable = start(*api_args(ports[1]), env=env)
        wait_until(lambda: len(champion_positions(pg_engine)) >= TRANSACTIONS, timeout=600,
                   message="every transaction scored")
        wait_until(lambda: len(consumer.received) >= TRANSACTIONS, timeout=120, message="the consumer to catch up")
        consumer.stop()
        consumer.thread.join(timeout=30)
        kill(restartable, signal.SIGTERM)
        cut_off_total = cut_offs_counted(urls[0])
        events = list(parse_events(read_to_end(stalled)))

    got = [item.position for item in consumer.received]
    assert len(got) == TRANSACTIONS, f"{len(got)} of {TRANSACTIONS} after {consumer.reconnections} reconnections"
    assert got == champion_positions(pg_engine), "every champion prediction, once each, in log order"
    assert consumer.failed_connections > 0 and consumer.reconnections > 5  # it did meet the dead process
    # The stalled consumer was cut off (counted by the API that served it), and what reached its socket is a
    # strict prefix of the truth. The cut-off notice goes out only if the consumer's socket still has room
    # within a second: this one never reads, and the kernel's buffers (4 MB on loopback here) may be full by
    # then, so the notice is checked when it arrived and the cut-off itself by the counter.
    notices = [json.loads(e.data) for e in events if e.event == "cut-off"]
    seen = [json.loads(e.data)["position"] for e in events if e.event == "message"]
    assert cut_off_total >= 1 and len(seen) < TRANSACTIONS and seen == got[:len(seen)]
    assert len(notices) <= 1 and all(n["resume_after"] == (str(seen[-1]) if seen else "0") for n in notices)
