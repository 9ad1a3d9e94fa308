"""Real worker processes on real brokers: every event scored once, through crashes and a broker outage."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from service.api.server import free_port
from service.config import Settings
from service.store.tables import predictions
from tests.support.api import served_api
from tests.support.models import SECRET, install_version, synthetic_rows
from tests.support.processes import kill, start_worker, wait_until, worker

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
@pytest.mark.parametrize("api", [f"amqp://guest:guest@127.0.0.1:{free_port()}/"], indirect=True)
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
