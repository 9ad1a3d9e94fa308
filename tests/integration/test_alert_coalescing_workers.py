"""Coalesced alerts through real worker processes: SIGKILL in the middle of a burst on a few cards leaves one alert
per card per window, each alerting transaction covered once (invariant 19)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.config import Settings
from fraudlog.domain.alert_window import AlertWindow
from fraudlog.store.tables import alerts, predictions
from tests.integration.test_alert_coalescing import expected_members, members, opened_alerts
from tests.integration.test_workers import post_all
from tests.support.api import served_api
from tests.support.models import SECRET, install_version, synthetic_rows
from tests.support.processes import kill, start_worker, wait_until, worker

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.slow]


def champions(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).where(predictions.c.champion)).scalar_one())


@pytest.fixture
def api(pg_url: str, rabbitmq_url: str) -> Iterator[str]:
    settings = Settings(database_url=pg_url, broker_url=rabbitmq_url, secret_key=SECRET, alert_sink="memory://",
                        queue_prefix=os.environ["FRAUDLOG_QUEUE_PREFIX"])
    with served_api(settings, background=True) as url:
        yield url


def test_a_worker_killed_mid_burst_leaves_one_alert_per_card_per_window(api: str, pg_engine: Engine, pg_url: str,
                                                                       rabbitmq_url: str) -> None:
    install_version(pg_engine, alert_rate=0.3)
    rows = synthetic_rows(6_000, seed=31, cards=4)  # a few cards: every window of each holds a burst
    assert set(post_all(api, rows, batch=100)) == {202}
    first = start_worker(pg_url, rabbitmq_url, FRAUDLOG_SWEEP_GRACE="3600")
    wait_until(lambda: champions(pg_engine) > 0, message="the first predictions")
    kill(first, signal.SIGKILL)
    assert 0 < champions(pg_engine) < len(rows), "the worker must die mid-burst for this test to mean anything"
    with worker(pg_url, rabbitmq_url, FRAUDLOG_SWEEP_GRACE="3600"):
        wait_until(lambda: champions(pg_engine) >= len(rows), timeout=180, message="every event scored")
    expected = expected_members(pg_engine, AlertWindow())
    assert len(expected) > len(set(expected.values())) > 4
    assert members(pg_engine) == expected
    assert sorted(alert_id for alert_id, _ in opened_alerts(pg_engine)) == sorted(set(expected.values()))
    with pg_engine.connect() as conn:  # at most one alert per (card, window): the ids are distinct by construction
        assert conn.execute(sa.select(sa.func.count()).select_from(alerts).where(alerts.c.type == "fraud_alert")
                            ).scalar_one() == len(set(expected.values()))
