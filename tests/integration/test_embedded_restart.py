"""The embedded mode's in-process broker outlives its workers: a second embedded deployment in the same
process (another queue prefix) scores every message rung on its queues, none taken by the stopped one."""

from __future__ import annotations

import asyncio
import time

import dramatiq
import pytest
import sqlalchemy as sa

from fraudlog.composition import SchedulePeriods
from fraudlog.config import Settings
from fraudlog.store.engine import create_engine
from fraudlog.store.tables import predictions
from fraudlog.workers import tasks
from fraudlog.workers.embedded import embedded_workers
from fraudlog.workers.process import start_broker
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows

# No periodic sweep within the test: only the messages rung below can score the events.
NO_SWEEPS = SchedulePeriods(sweep=3600.0, deliver_alerts=3600.0, evaluate=3600.0, retrain_check=3600.0)
MESSAGES = 8


def settings_for(url: str, prefix: str) -> Settings:
    return Settings(database_url=url, secret_key=SECRET, alert_sink="memory://", queue_prefix=prefix)


async def run_deployments(url: str, first: str = "embedded") -> int:
    if first == "embedded":
        async with embedded_workers(settings_for(url, "first"), periods=NO_SWEEPS):
            pass
    else:  # a worker started on the process's broker by hand, as a test of the worker's boot does
        worker = dramatiq.Worker(start_broker(settings_for(url, "first")), worker_timeout=100)
        worker.start()
        worker.stop()
    engine = create_engine(url)
    try:
        async with embedded_workers(settings_for(url, "second"), periods=NO_SWEEPS):
            await asyncio.sleep(0.5)  # the start-up sweep, with nothing to find yet
            positions = append_transactions(engine, synthetic_rows(MESSAGES, seed=17))
            for position in positions:  # one message each: a stolen one is enough to fail
                tasks.ring_score([position])
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and scored(engine) < MESSAGES:
                await asyncio.sleep(0.05)
            return scored(engine)
    finally:
        engine.dispose()


def scored(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(predictions)).scalar_one())


@pytest.mark.parametrize("first", ["embedded", "bare worker"])
def test_a_second_embedded_deployment_scores_every_message_on_its_new_queues(sqlite_url: str, first: str) -> None:
    engine = create_engine(sqlite_url)
    install_version(engine)
    engine.dispose()
    assert asyncio.run(run_deployments(sqlite_url, first)) == MESSAGES
