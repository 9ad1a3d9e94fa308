"""A worker's burst process (`fraudlog.workers.burst`): a burst's chunk is scored in a child process, through the same
idempotent path, and a child that dies fails only the chunk it had: the message is retried and the next
chunk starts a new child."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.config import Settings
from fraudlog.store.tables import predictions
from fraudlog.workers.burst import BurstProcess
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows
from tests.support.processes import kill, start_worker, wait_until


@pytest.fixture
def bursts(engine: Engine) -> Iterator[BurstProcess]:
    install_version(engine)
    process = BurstProcess(Settings(database_url=engine.url.render_as_string(hide_password=False),
                                    secret_key=SECRET))
    yield process
    process.close()


def champion_predictions(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(predictions)
                                .where(predictions.c.champion)).scalar_one())


def test_a_chunk_is_scored_in_another_process_and_a_second_run_stores_nothing_twice(
        engine: Engine, bursts: BurstProcess) -> None:
    positions = append_transactions(engine, synthetic_rows(300, seed=71, cards=3))
    assert bursts.pid() != os.getpid()
    report = bursts.score_positions(positions)
    assert (report.events, report.predictions) == (300, 300)
    assert champion_predictions(engine) == 300
    again = bursts.score_positions(positions)  # a redelivered message
    assert again.predictions == 0 and champion_predictions(engine) == 300


def test_a_child_that_dies_fails_its_chunk_and_the_next_chunk_gets_a_new_child(
        engine: Engine, bursts: BurstProcess) -> None:
    positions = append_transactions(engine, synthetic_rows(50, seed=72, cards=3))
    first = bursts.pid()
    os.kill(first, signal.SIGKILL)
    with pytest.raises(BrokenProcessPool):
        bursts.score_positions(positions)
    assert champion_predictions(engine) == 0
    assert bursts.score_positions(positions).predictions == 50
    assert bursts.pid() != first


def processes_in_group(group: int) -> list[int]:
    """Live processes of a process group (from /proc: field 5 of `stat` is the group, field 3 the state)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


@pytest.mark.postgres
@pytest.mark.rabbitmq
def test_a_worker_told_to_stop_stops_its_burst_process_and_exits(
        pg_engine: Engine, pg_url: str, rabbitmq_url: str) -> None:
    install_version(pg_engine)
    process = start_worker(pg_url, rabbitmq_url, FRAUDLOG_QUEUE_PREFIX=f"burst-{uuid.uuid4().hex[:8]}")
    try:
        # The dramatiq main process, its worker process, and (on the worker's first message, which builds its
        # services) the worker's burst process and multiprocessing's resource tracker.
        wait_until(lambda: len(processes_in_group(process.pid)) >= 4, timeout=120,
                   message="the worker process starts its burst process")
        os.kill(process.pid, signal.SIGTERM)  # the main process only: it stops its worker process
        process.wait(timeout=60)
        wait_until(lambda: not processes_in_group(process.pid), timeout=30,
                   message="every process of the worker's group exits")
    finally:
        if process.poll() is None:
            kill(process)
