"""The event log's contract, run against SQLite and Postgres alike (the `engine` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine

from fraudlog.store.event_log import EventLog
from fraudlog.store.labels import label_for
from fraudlog.store.postgres import COPY_FROM_ROWS, POSITION_SEQUENCE
from tests.support.data import label_event, transaction_event
from tests.support.event_log import read_after, read_range

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


class TestEventLogContract:
    @pytest.fixture(params=["pooled", "own writer"])
    def log(self, engine: Engine, request: pytest.FixtureRequest) -> Iterator[EventLog]:
        # The API's group committer appends on a connection of its own; every other appender on the pool.
        log = EventLog(engine, own_writer=request.param == "own writer")
        yield log
        log.close()

    def test_appended_events_read_back_in_position_order(self, log: EventLog) -> None:
        [outcome] = log.append_transactions([[transaction_event(n) for n in range(1, 6)]], NOW)
        positions = [r.position for r in outcome.receipts]
        assert positions == sorted(positions) and len(set(positions)) == 5
        records = list(read_range(log.engine))
        assert [r.transaction_id for r in records] == [f"tx-{n:06d}" for n in range(1, 6)]
        assert [r.position for r in records] == positions
        assert records[0].recorded_at == NOW and records[0].payload["amount"] == 11.0
        assert records[0].event_time is not None and records[0].event_time.tzinfo is not None

    @pytest.mark.parametrize("sizes", [(3, 1, 2), (COPY_FROM_ROWS + 5, 1, COPY_FROM_ROWS + 1)],
                             ids=["small appends", "appends copied in"])
    def test_positions_follow_on_across_appends_and_kinds(self, log: EventLog, sizes: tuple[int, ...]) -> None:
        # Positions are read under the log's lock and the identity sequence is moved past them: an append that
        # forgot to move it would hand the next one the same positions (a primary key violation).
        first = 1
        for size in sizes:
            log.append_transactions([[transaction_event(n) for n in range(first, first + size)]], NOW)
            first += size
        log.append_labels([[label_event("tx-000001", True, NOW)]], NOW)
        assert [r.position for r in read_range(log.engine)] == list(range(1, first + 1))
        if log.engine.dialect.name == "postgresql":  # the sequence stands where the log ends, for any other inserter
            with log.engine.connect() as conn:
                assert conn.exec_driver_sql(f"SELECT last_value FROM {POSITION_SEQUENCE}").scalar_one() == first
                assert conn.exec_driver_sql("SELECT pg_get_serial_sequence('events', 'position')").scalar_one() \
                    == f"public.{POSITION_SEQUENCE}"

    def test_walk_honours_bounds_and_types(self, log: EventLog) -> None:
        log.append_transactions([[transaction_event(n) for n in range(1, 11)]], NOW)
        log.append_labels([[label_event("tx-000003", True, NOW)]], NOW)
        assert [r.position for r in read_range(log.engine, 3, 5)] == [3, 4, 5]
        assert [r.event_type for r in read_range(log.engine, event_types=["label"])] == ["label"]
        assert [r.position for r in read_range(log.engine, 9, batch_size=2)] == [9, 10, 11]
        assert [r.position for r in read_after(log.engine, 8, limit=2)] == [9, 10]

    def test_duplicate_transaction_returns_original_position(self, log: EventLog) -> None:
        [first] = log.append_transactions([[transaction_event(1)]], NOW)
        [again] = log.append_transactions([[transaction_event(1)]], NOW)
        assert again.receipts[0].status == "duplicate"
        assert again.receipts[0].position == first.receipts[0].position
        assert log.count() == 1

    def test_same_id_with_another_body_conflicts_and_stores_nothing_of_its_unit(self, log: EventLog) -> None:
        log.append_transactions([[transaction_event(1)]], NOW)
        [outcome] = log.append_transactions([[transaction_event(2), transaction_event(1, amount=99.0)]], NOW)
        assert outcome.conflicts == ["tx-000001"] and outcome.receipts == []
        assert log.get_transaction("tx-000002") is None
        assert log.count() == 1

    def test_units_of_one_group_succeed_or_fail_independently(self, log: EventLog) -> None:
        log.append_transactions([[transaction_event(1)]], NOW)
        good, bad, repeat = log.append_transactions(
            [[transaction_event(2)], [transaction_event(3), transaction_event(1, amount=5.0)], [transaction_event(2)]],
            NOW)
        assert good.receipts[0].status == "accepted" and bad.conflicts == ["tx-000001"]
        assert repeat.receipts[0].status == "duplicate" and repeat.receipts[0].position == good.receipts[0].position
        assert sorted(r.transaction_id or "" for r in read_range(log.engine)) == ["tx-000001", "tx-000002"]

    def test_get_transaction_by_id(self, log: EventLog) -> None:
        log.append_transactions([[transaction_event(1), transaction_event(2)]], NOW)
        record = log.get_transaction("tx-000002")
        assert record is not None and record.position == 2 and record.card_id == "card-2"
        assert log.get_transaction("missing") is None

    def test_labels_duplicate_and_correction(self, log: EventLog, engine: Engine) -> None:
        [first] = log.append_labels([[label_event("tx-9", True, NOW)]], NOW)
        [same] = log.append_labels([[label_event("tx-9", True, NOW)]], NOW)
        [other] = log.append_labels([[label_event("tx-9", False, NOW)]], NOW)
        assert [first.receipts[0].status, same.receipts[0].status, other.receipts[0].status] == [
            "accepted", "duplicate", "correction"]
        assert same.receipts[0].position == first.receipts[0].position
        assert log.count("label") == 2
        projected = label_for(engine, "tx-9")
        assert projected is not None and projected.is_fraud is False and projected.corrections == 1

    def test_label_for_unknown_transaction_is_accepted(self, log: EventLog) -> None:
        [outcome] = log.append_labels([[label_event("not-yet-seen", True, NOW)]], NOW)
        assert outcome.receipts[0].status == "accepted"

    def test_last_position(self, log: EventLog) -> None:
        assert log.last_position() == 0
        log.append_transactions([[transaction_event(n) for n in range(1, 4)]], NOW)
        assert log.last_position() == 3
