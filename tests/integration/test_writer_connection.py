"""The API writer's own connection (`WriterConnection`): held across group commits, replaced when lost, and
its one-round-trip append of new transactions.

The pooled path pinged every connection before each transaction; the writer's connection is not pinged, so
what the ping gave (an append after a database restart succeeds) must come from replacing a lost connection
and running the append again, which is safe only because it failed before COMMIT was sent.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.domain.events import NewEvent
from fraudlog.store.backend import backend_for
from fraudlog.store.engine import WriterConnection, create_engine
from fraudlog.store.errors import CommitInDoubt, StoreError
from fraudlog.store.event_log import EventLog
from tests.support.data import transaction_event
from tests.support.event_log import read_range
from tests.support.round_trips import counted_url

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
        assert [r.transaction_id for r in read_range(log.engine)] == ["tx-000001", "tx-000002", "tx-000003"]
        assert [r.position for r in read_range(log.engine)][1:] == [r.position for r in outcome.receipts]
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
        assert [r.transaction_id for r in read_range(log.engine)] == ["tx-000001", "tx-000002"]
    finally:
        log.close()


@pytest.mark.postgres
def test_the_writers_prepared_lookups_are_planned_for_each_batch(pg_engine: Engine) -> None:
    # The duplicate lookup has one shape, so the driver prepares it; left to itself, Postgres would soon run
    # it with a generic plan, and one made while the log was nearly empty scans a whole index per append,
    # ever slower as the log grows. Every session plans each execution instead (`postgres._configure`).
    log = EventLog(pg_engine, own_writer=True)
    try:
        log.append_transactions([[transaction_event(1)]], NOW)
        for n in range(2, 14):  # a retried request in each group: the general path, which looks ids up
            log.append_transactions([[transaction_event(n)], [transaction_event(1)]], NOW)
        writer = log._writer._connection()  # the connection whose prepared statements we look at
        plans = writer.execute(sa.text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE "
            "'%transaction_id = ANY%'")).all()
        writer.rollback()
        assert plans and all(generic == 0 and custom >= 6 for generic, custom in plans), plans
    finally:
        log.close()


@pytest.mark.postgres
def test_a_group_of_new_transactions_takes_one_round_trip_and_a_known_id_the_general_path(pg_url: str) -> None:
    with counted_url(pg_url) as (url, counter):
        engine = create_engine(url)
        log = EventLog(engine, own_writer=True)
        try:
            log.append_transactions([[transaction_event(1)]])  # the writer's connection is open from here
            before = counter.count
            outcomes = log.append_transactions([[transaction_event(2)], [transaction_event(3), transaction_event(4)]])
            fast = counter.count - before
            # A retried request beside a new one: the one-round-trip statement finds a known id, stores nothing
            # and moves no position; the general path then answers both.
            before = counter.count
            mixed = log.append_transactions([[transaction_event(5)], [transaction_event(2)]])
            general = counter.count - before
            [last] = log.append_transactions([[transaction_event(6)]])
            records = read_range(log.engine)
        finally:
            log.close()
            engine.dispose()
    assert fast == 1  # lock, INSERT and COMMIT in one pipeline; the caller's commit then has nothing to send
    assert general >= 3
    assert [[(r.position, r.status) for r in o.receipts] for o in outcomes] == [[(2, "accepted")],
                                                                                [(3, "accepted"), (4, "accepted")]]
    assert [[(r.position, r.status) for r in o.receipts] for o in mixed] == [[(5, "accepted")], [(2, "duplicate")]]
    assert [(r.position, r.status) for r in last.receipts] == [(6, "accepted")]
    assert [r.position for r in records] == [1, 2, 3, 4, 5, 6]  # no gap where the one-trip statement stored nothing
    stamps = [r.recorded_at for r in records]
    assert stamps == sorted(stamps)  # the database's clock under the lock, on either path


@pytest.mark.postgres
def test_work_lost_while_its_own_commit_was_in_flight_is_not_run_again(pg_engine: Engine) -> None:
    # The one-round-trip append sends COMMIT itself; if the connection dies then, the append may be stored, and
    # running it again would answer "duplicate" for what this very request stored.
    writer = WriterConnection(pg_engine)
    attempts = []
    row = ("tx-in-doubt", "card-1", NOW, "0" * 64, '{"amount": 1.0}')

    def append_on_a_connection_that_dies(conn: sa.Connection) -> list[int] | None:
        attempts.append(1)
        pid = conn.connection.driver_connection.info.backend_pid  # asking the server would begin a transaction
        with pg_engine.connect() as other:  # as a database restart would, while the append is on its way
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return backend_for(conn).append_new_transactions(conn, [row], NOW)

    try:
        with pytest.raises(CommitInDoubt):
            writer.run(append_on_a_connection_that_dies)
        assert len(attempts) == 1
        assert writer.run(lambda conn: conn.exec_driver_sql("SELECT 1").scalar_one()) == 1  # a new connection
    finally:
        writer.close()
