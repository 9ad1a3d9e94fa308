"""Real worker processes on real brokers: every event scored once, through crashes and a broker outage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.api.server import free_port
from fraudlog.config import Settings
from fraudlog.store.outbox import PENDING, SENT, count_by_status
from fraudlog.store.tables import predictions
from tests.support.api import served_api
from tests.support.models import SECRET, install_version, synthetic_rows
from tests.support.processes import REPO, kill, log_file, service_env, start_worker, wait_until, worker
from tests.support.receiver import WebhookReceiver

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def champion_predictions(engine: Engine) -> tuple[int, int]:
    """(champion predictions, distinct transactions with one)."""
    with engine.connect() as conn:
        return tuple(conn.execute(sa.select(sa.func.count(), sa.func.count(sa.distinct(predictions.c.transaction_id)))
                                  .where(predictions.c.champion)).one())  # type: ignore[return-value]


@pytest.fixture
def api(pg_url: str, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    broker_url = request.getfixturevalue(request.param) if isinstance(request.param, str) and \
        request.param.endswith("_url") else request.param
    # The worker processes take this run's queue prefix from the environment (conftest sets it): so must the API.
    settings = Settings(database_url=pg_url, broker_url=broker_url, secret_key=SECRET, alert_sink="memory://",
                        queue_prefix=os.environ["FRAUDLOG_QUEUE_PREFIX"])
    with served_api(settings, background=True) as url:
        yield url, broker_url


def post_all(url: str, rows: list[tuple[dict[str, Any], bool]], batch: int = 500) -> list[int]:
    codes = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for start in range(0, len(rows), batch):
            response = client.post("/v1/transactions", json=[body for body, _ in rows[start : start + batch]])
            codes.append(response.status_code)
    return codes


@pytest.mark.parametrize("api", ["rabbitmq_url", "redis_url"], indirect=True)
def test_worker_process_scores_every_event_once(api: tuple[str, str], pg_engine: Engine, pg_url: str) -> None:
    url, broker_url = api
    install_version(pg_engine)
    rows = synthetic_rows(3_000, seed=21)
    with worker(pg_url, broker_url):
        assert set(post_all(url, rows)) == {202}
        wait_until(lambda: champion_predictions(pg_engine)[0] >= len(rows), message="every event scored")
    assert champion_predictions(pg_engine) == (len(rows), len(rows))


@pytest.mark.rabbitmq
@pytest.mark.parametrize("api", ["rabbitmq_url"], indirect=True)
def test_worker_killed_mid_batch_loses_nothing(api: tuple[str, str], pg_engine: Engine, pg_url: str) -> None:
    """SIGKILL while batches are in flight: RabbitMQ redelivers unacked doorbells to the restarted worker."""
    url, broker_url = api
    install_version(pg_engine)
    rows = synthetic_rows(20_000, seed=22)
    assert set(post_all(url, rows, batch=100)) == {202}  # 200 doorbells of 100 positions wait in the queue
    first = start_worker(pg_url, broker_url, FRAUDLOG_SWEEP_GRACE="3600")  # no sweeping: redelivery alone
    wait_until(lambda: champion_predictions(pg_engine)[0] > 0, message="the first predictions")
    kill(first, signal.SIGKILL)
    scored_at_kill = champion_predictions(pg_engine)[0]
    assert 0 < scored_at_kill < len(rows), "the worker must die mid-stream for this test to mean anything"
    with worker(pg_url, broker_url, FRAUDLOG_SWEEP_GRACE="3600"):
        wait_until(lambda: champion_predictions(pg_engine)[0] >= len(rows), timeout=120,
                   message="every event scored after the restart")
    assert champion_predictions(pg_engine) == (len(rows), len(rows))


@pytest.mark.rabbitmq
# The id is fixed: pytest-xdist workers must collect the same test names, and each picks its own free port.
@pytest.mark.parametrize("api", [f"amqp://guest:guest@127.0.0.1:{free_port()}/"], indirect=True,
                         ids=["unreachable-broker"])
def test_posts_succeed_while_the_broker_is_down_and_the_sweeper_catches_up(
        api: tuple[str, str], pg_engine: Engine, pg_url: str, rabbitmq_url: str) -> None:
    """The API's broker is unreachable (nothing listens on its port): every POST still answers 202; a
    worker on the reachable broker sweeps on start and scores every event."""
    url, _ = api
    install_version(pg_engine)
    rows = synthetic_rows(2_000, seed=23)
    assert set(post_all(url, rows, batch=200)) == {202}
    assert champion_predictions(pg_engine)[0] == 0
    with worker(pg_url, rabbitmq_url):
        wait_until(lambda: champion_predictions(pg_engine)[0] >= len(rows), timeout=120,
                   message="the sweeper to get every event scored")
    assert champion_predictions(pg_engine) == (len(rows), len(rows))


@pytest.mark.rabbitmq
@pytest.mark.parametrize("api", ["rabbitmq_url"], indirect=True)
def test_a_hanging_webhook_receiver_never_delays_scoring(api: tuple[str, str], pg_engine: Engine,
                                                         pg_url: str) -> None:
    """The receiver takes every alert and never answers. Delivery waits (one alert in flight, the rest
    pending), scoring does not: every transaction is scored while no delivery has finished. Before delivery
    had its own thread, two `deliver_alerts` messages holding the worker's two threads stopped scoring."""
    url, broker_url = api
    install_version(pg_engine, alert_rate=0.5)  # about one transaction in two alerts
    rows = synthetic_rows(2_000, seed=24)
    secret = "whsec-hanging-receiver"
    with WebhookReceiver(secret.encode()) as receiver:
        receiver.hang()
        # One alert per claim and a timeout longer than the test: each delivery attempt is stuck for good.
        with worker(pg_url, broker_url, threads=2, FRAUDLOG_ALERT_SINK=receiver.url,  # type: ignore[arg-type]
                    FRAUDLOG_WEBHOOK_SECRET=secret, FRAUDLOG_ALERT_BATCH_SIZE="1", FRAUDLOG_ALERT_TIMEOUT="600",
                    FRAUDLOG_ALERT_VISIBILITY_TIMEOUT="900"):
            assert set(post_all(url, rows, batch=50)) == {202}  # 40 doorbells, nearly all with alerts
            wait_until(lambda: champion_predictions(pg_engine)[0] >= len(rows), timeout=120,
                       message="every transaction scored while the receiver hangs")
            assert receiver.hanging >= 1  # delivery really was under way, and stuck, while scoring finished
            assert receiver.delivered == {}
            statuses = count_by_status(pg_engine)
            assert statuses[SENT] == 0 and statuses[PENDING] > 100
    assert champion_predictions(pg_engine) == (len(rows), len(rows))


def dramatiq_worker_pids(supervisor_pid: int) -> set[int]:
    """The Dramatiq worker processes under `fraudlog worker`: the children of its children."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command may contain spaces and parentheses: the fields after the last ")" are fixed.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process exited while we looked
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    children = {pid for pid, parent in parents.items() if parent == supervisor_pid}
    return {pid for pid, parent in parents.items() if parent in children}


@pytest.mark.rabbitmq
@pytest.mark.parametrize("api", ["rabbitmq_url"], indirect=True)
def test_a_worker_process_killed_with_sigkill_is_restarted_and_scoring_goes_on(
        api: tuple[str, str], pg_engine: Engine, pg_url: str) -> None:
    url, broker_url = api
    install_version(pg_engine)
    logs = log_file("supervisor")
    supervisor = subprocess.Popen([sys.executable, "-m", "fraudlog.cli", "worker", "--processes", "1",
                                   "--threads", "2"], cwd=REPO,
                                  # No metrics exporter: Dramatiq forks it beside the worker process, and this
                                  # test kills the worker process, which it finds as the only grandchild.
                                  env={**service_env(pg_url, broker_url), "FRAUDLOG_WORKER_METRICS_PORT": "0"},
                                  start_new_session=True, stdout=subprocess.DEVNULL, stderr=logs)
    try:
        before = synthetic_rows(500, seed=25)
        assert set(post_all(url, before)) == {202}
        wait_until(lambda: champion_predictions(pg_engine)[0] >= len(before), message="the first batch scored")
        (victim,) = dramatiq_worker_pids(supervisor.pid)

        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: dramatiq_worker_pids(supervisor.pid) - {victim} != set(), timeout=60,
                   message="a new Dramatiq worker process")

        assert supervisor.poll() is None, "fraudlog worker exited when one of its processes was killed"
        after = synthetic_rows(500, seed=26)
        assert set(post_all(url, after)) == {202}
        wait_until(lambda: champion_predictions(pg_engine)[0] >= len(before) + len(after), timeout=120,
                   message="the transactions posted after the kill scored")
        assert supervisor.poll() is None
    finally:
        kill(supervisor, signal.SIGTERM)
    log_text = Path(logs.name).read_text()
    assert "restarting it" in log_text and "restarted as" in log_text, log_text[-2_000:]
    assert champion_predictions(pg_engine) == (1_000, 1_000)
