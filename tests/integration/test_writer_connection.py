"""The API writer's own connection (`WriterConnection`): held across group commits, replaced when lost.

The pooled path pinged every connection before each transaction; the writer's connection is not pinged, so
what the ping gave (an append after a database restart succeeds) must come from replacing a lost connection
and running the append again, which is safe only because it failed before COMMIT was sent.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from service.domain.events import NewEvent
from service.store.errors import StoreError
from service.store.event_log import EventLog
from tests.support.data import transaction_event

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


def _terminate_other_backends(engine: Engine) -> int:
    """What a database restart does to this database's idle connections: every other backend is ended."""
    with engine.connect() as conn:
        ended = conn.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
        conn.commit()
    return int(ended)


@pytest.mark.postgres
def test_an_append_after_the_database_dropped_the_writers_connection_is_stored_once(pg_engine: Engine) -> None:
    log = EventLog(pg_engine, own_writer=True)
    try:
        log.append_transactions([[transaction_event(1)]], NOW)
        assert _terminate_other_backends(pg_engine) >= 1  # the writer's connection among them
        [outcome] = log.append_transactions([[transaction_event(2), transaction_event(3)]], NOW)
        assert [r.status for r in outcome.receipts] == ["accepted", "accepted"]
        assert [r.transaction_id for r in log.read_range()] == ["tx-000001", "tx-000002", "tx-000003"]
        assert [r.position for r in log.read_range()][1:] == [r.position for r in outcome.receipts]
    finally:
        log.close()


def test_a_refused_append_leaves_nothing_and_the_writer_goes_on(engine: Engine) -> None:
    log = EventLog(engine, own_writer=True)
    try:
        log.append_transactions([[transaction_event(1)]], NOW)
        refused = NewEvent("not-a-type", None, None, NOW, "0" * 64, {"x": 1})
        with pytest.raises(StoreError):
            log.append_control(refused, NOW)
        [outcome] = log.append_transactions([[transaction_event(2)]], NOW)
        assert outcome.receipts[0].status == "accepted"
        assert [r.transaction_id for r in log.read_range()] == ["tx-000001", "tx-000002"]
    finally:
        log.close()


@pytest.mark.postgres
def test_the_writers_prepared_lookups_are_planned_for_each_batch(pg_engine: Engine) -> None:
    # The duplicate lookup has one shape, so the driver prepares it; left to itself, Postgres would soon run
    # it with a generic plan, and one made while the log was nearly empty scans a whole index per append,
    # ever slower as the log grows. Every session plans each execution instead (`dialect.build_engine`).
    log = EventLog(pg_engine, own_writer=True)
    try:
        for n in range(1, 13):
            log.append_transactions([[transaction_event(n)]], NOW)
        writer = log._writer._connection()  # the connection whose prepared statements we look at
        plans = writer.execute(sa.text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE "
            "'%transaction_id = ANY%'")).all()
        writer.rollback()
        assert plans and all(generic == 0 and custom >= 6 for generic, custom in plans), plans
    finally:
        log.close()
