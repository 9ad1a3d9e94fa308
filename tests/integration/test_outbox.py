"""The alerts outbox, on SQLite and on Postgres: one alert per transaction, leases, backoff, listing."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.alerts.schedule import RetrySchedule
from fraudlog.store import outbox
from fraudlog.store.engine import write_transaction
from fraudlog.store.outbox import (
    FAILED,
    PENDING,
    SENT,
    InvalidCursor,
    alert_for_transaction,
    alert_id_for,
    claim_pending_alerts,
    count_by_status,
    insert_alert,
    list_alerts,
    mark_sent,
    record_failure,
    retry_alert,
)
from fraudlog.store.tables import alerts

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
CONTRACT_FIELDS = ["alert_id", "transaction_id", "card_id", "score", "threshold", "model_version", "created_at",
                   "status", "attempts", "sent_at", "last_error"]


def add_alert(engine: Engine, transaction_id: str, *, card_id: str | None = "card-1", score: float = 0.93,
              created_at: datetime = T0, position: int = 1) -> bool:
    with write_transaction(engine) as conn:
        return insert_alert(conn, transaction_id=transaction_id, card_id=card_id, score=score, threshold=0.8,
                            model_version=3, position=position, created_at=created_at)


def stored(engine: Engine, transaction_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.select(alerts).where(alerts.c.transaction_id == transaction_id)).one()


# A sink URL with credentials in both places they hide: user information and the query string.
FAILURE = "HTTP 503 from https://fraudlog:hunter2@example.test/hook?token=tok-9f8e7d: down"


def schedule(max_attempts: int = 5) -> RetrySchedule:
    return RetrySchedule(base_delay=timedelta(seconds=1), max_delay=timedelta(seconds=5), max_attempts=max_attempts)


def fail(engine: Engine, alert_id: str, now: datetime, *, max_attempts: int = 5) -> str | None:
    return record_failure(engine, alert_id, FAILURE, policy=schedule(max_attempts), now=now)


# -- one alert per transaction ----------------------------------------------------------------------------

def test_inserting_twice_for_the_same_transaction_keeps_one_alert_with_the_same_id(engine: Engine) -> None:
    assert add_alert(engine, "tx-1", score=0.93) is True
    assert add_alert(engine, "tx-1", score=0.99) is False  # a redelivered doorbell, a replay, a second worker

    with engine.connect() as conn:
        rows = conn.execute(sa.select(alerts.c.id, alerts.c.score).where(alerts.c.transaction_id == "tx-1")).all()
    assert rows == [(alert_id_for("tx-1"), 0.93)]


def test_alert_id_is_a_fixed_uuid5_of_the_transaction_id() -> None:
    # Pinned: a changed namespace would give every alert a new Idempotency-Key after a rebuild.
    assert alert_id_for("tx-000123") == "ed093263-1faf-5444-9a35-a6d6fab6b52d"
    assert alert_id_for("tx-000124") != alert_id_for("tx-000123")


def test_outbox_row_has_debezium_columns_and_the_payload_the_customer_receives(engine: Engine) -> None:
    add_alert(engine, "tx-1", card_id="card-42", created_at=T0 + timedelta(microseconds=123), position=17)

    row = stored(engine, "tx-1")
    assert (row.id, row.aggregatetype, row.aggregateid, row.type) == (
        alert_id_for("tx-1"), "transaction", "tx-1", "fraud_alert")
    assert row.payload == {
        "type": "fraud_alert", "alert_id": alert_id_for("tx-1"), "transaction_id": "tx-1", "card_id": "card-42",
        "score": 0.93, "threshold": 0.8, "model_version": 3, "created_at": "2026-11-28T03:00:00.000123Z",
    }
    assert (row.status, row.attempts, row.position, row.available_at) == (PENDING, 0, 17, row.created_at)


def test_an_alert_rolls_back_with_its_scoring_transaction(engine: Engine) -> None:
    with pytest.raises(RuntimeError), write_transaction(engine) as conn:
        insert_alert(conn, transaction_id="tx-1", card_id=None, score=0.9, threshold=0.8, model_version=1,
                     position=1, created_at=T0)
        raise RuntimeError("the prediction insert failed")

    assert alert_for_transaction(engine, "tx-1") is None


# -- claiming ---------------------------------------------------------------------------------------------

def test_a_claimed_alert_is_not_claimed_again_until_its_visibility_timeout_passes(engine: Engine) -> None:
    add_alert(engine, "tx-1")
    claimed_at = T0 + timedelta(seconds=1)

    first = claim_pending_alerts(engine, limit=10, visibility_timeout=LEASE, now=claimed_at)
    assert [a.alert_id for a in first] == [alert_id_for("tx-1")]
    assert first[0].payload["transaction_id"] == "tx-1"
    assert first[0].locked_until == claimed_at + LEASE

    assert claim_pending_alerts(engine, limit=10, visibility_timeout=LEASE, now=claimed_at + LEASE / 2) == []
    assert claim_pending_alerts(engine, limit=10, visibility_timeout=LEASE, now=claimed_at + LEASE) == []

    # The relay that held it died: once the lease has passed, another relay takes over.
    after = claimed_at + LEASE + timedelta(microseconds=1)
    again = claim_pending_alerts(engine, limit=10, visibility_timeout=LEASE, now=after)
    assert [a.alert_id for a in again] == [alert_id_for("tx-1")]


def test_claim_takes_only_due_alerts_and_at_most_the_limit(engine: Engine) -> None:
    for i in range(4):
        add_alert(engine, f"tx-{i}", created_at=T0 + timedelta(seconds=i))
    add_alert(engine, "tx-later", created_at=T0 + timedelta(hours=1))
    now = T0 + timedelta(minutes=1)

    first = claim_pending_alerts(engine, limit=3, visibility_timeout=LEASE, now=now)
    second = claim_pending_alerts(engine, limit=3, visibility_timeout=LEASE, now=now)

    assert [a.payload["transaction_id"] for a in first] == ["tx-0", "tx-1", "tx-2"]
    assert [a.payload["transaction_id"] for a in second] == ["tx-3"]


def test_concurrent_claims_never_hand_out_the_same_alert_twice(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        for i in range(200):
            insert_alert(conn, transaction_id=f"tx-{i}", card_id=None, score=0.9, threshold=0.8,
                         model_version=1, position=i, created_at=T0)
    claims: list[list[str]] = [[] for _ in range(8)]
    start = threading.Barrier(8)

    def relay(mine: list[str]) -> None:
        start.wait()
        while batch := claim_pending_alerts(engine, limit=7, visibility_timeout=LEASE, now=T0):
            mine.extend(a.alert_id for a in batch)

    threads = [threading.Thread(target=relay, args=(mine,)) for mine in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    everything = [alert_id for mine in claims for alert_id in mine]
    assert len(everything) == 200
    assert set(everything) == {alert_id_for(f"tx-{i}") for i in range(200)}


# -- outcomes ---------------------------------------------------------------------------------------------

def test_a_delivery_clears_the_error_of_the_attempt_before(engine: Engine) -> None:
    add_alert(engine, "tx-1")
    alert_id = alert_id_for("tx-1")
    assert fail(engine, alert_id, T0) == PENDING

    mark_sent(engine, [alert_id], T0 + timedelta(seconds=5))

    row = stored(engine, "tx-1")
    assert (row.status, row.attempts, row.last_error) == (SENT, 1, None)


def test_mark_sent_sets_sent_at_once_and_releases_the_lease(engine: Engine) -> None:
    add_alert(engine, "tx-1")
    alert_id = alert_id_for("tx-1")
    claim_pending_alerts(engine, limit=1, visibility_timeout=LEASE, now=T0)
    first_send, resend = T0 + timedelta(seconds=2), T0 + timedelta(seconds=40)

    assert mark_sent(engine, [alert_id], first_send) == 1
    assert mark_sent(engine, [alert_id], resend) == 0  # a resend after a lost ack must not move sent_at

    row = stored(engine, "tx-1")
    assert (row.status, row.sent_at, row.locked_until) == (SENT, first_send, None)
    assert claim_pending_alerts(engine, limit=1, visibility_timeout=LEASE, now=T0 + timedelta(days=1)) == []


def test_failures_back_off_exponentially_and_end_as_failed_after_max_attempts(engine: Engine) -> None:
    add_alert(engine, "tx-1")
    alert_id = alert_id_for("tx-1")
    now = T0
    # base 1 s doubling, capped at 5 s, each jittered into [half, all] of itself; the fifth failure gives up.
    for attempt, envelope in enumerate([1, 2, 4, 5], start=1):
        assert claim_pending_alerts(engine, limit=1, visibility_timeout=LEASE, now=now)
        assert fail(engine, alert_id, now) == PENDING
        row = stored(engine, "tx-1")
        assert (row.attempts, row.locked_until) == (attempt, None)
        assert row.available_at - now == schedule().delay(alert_id, attempt)
        assert envelope / 2 <= (row.available_at - now).total_seconds() <= envelope
        assert row.last_error == "HTTP 503 from https://***@example.test/hook?token=***: down"
        assert "hunter2" not in row.last_error and "tok-9f8e7d" not in row.last_error
        early = row.available_at - timedelta(microseconds=1)
        assert claim_pending_alerts(engine, limit=1, visibility_timeout=LEASE, now=early) == []
        now = row.available_at

    assert claim_pending_alerts(engine, limit=1, visibility_timeout=LEASE, now=now)
    assert fail(engine, alert_id, now) == FAILED
    assert (stored(engine, "tx-1").status, stored(engine, "tx-1").attempts) == (FAILED, 5)
    assert claim_pending_alerts(engine, limit=1, visibility_timeout=LEASE, now=now + timedelta(days=1)) == []


def test_an_alert_is_failed_once_its_next_attempt_would_fall_after_the_retry_period(engine: Engine) -> None:
    add_alert(engine, "tx-1", created_at=T0)
    alert_id = alert_id_for("tx-1")
    within_a_day = RetrySchedule(base_delay=timedelta(minutes=30), max_delay=timedelta(hours=1),
                                 retry_period=timedelta(days=1))

    assert record_failure(engine, alert_id, FAILURE, policy=within_a_day, now=T0 + timedelta(hours=20)) == PENDING
    assert stored(engine, "tx-1").available_at <= T0 + timedelta(days=1)
    assert record_failure(engine, alert_id, FAILURE, policy=within_a_day, now=T0 + timedelta(hours=23, minutes=59),
                          ) == FAILED
    assert (stored(engine, "tx-1").status, stored(engine, "tx-1").attempts) == (FAILED, 2)


def test_a_late_failure_does_not_undo_a_delivery(engine: Engine) -> None:
    # Relay A's lease expired mid-send; relay B delivered and marked it; then A's send times out.
    add_alert(engine, "tx-1")
    mark_sent(engine, [alert_id_for("tx-1")], T0)

    assert fail(engine, alert_id_for("tx-1"), T0) is None
    row = stored(engine, "tx-1")
    assert (row.status, row.attempts, row.last_error) == (SENT, 0, None)


def test_retry_alert_puts_only_a_failed_alert_back_to_pending(engine: Engine) -> None:
    add_alert(engine, "tx-1")
    alert_id = alert_id_for("tx-1")
    assert retry_alert(engine, alert_id) is False  # pending: nothing to retry
    fail(engine, alert_id, T0, max_attempts=1)
    later = T0 + timedelta(hours=2)

    assert retry_alert(engine, alert_id, now=later) is True

    row = stored(engine, "tx-1")
    assert (row.status, row.attempts, row.available_at) == (PENDING, 0, later)
    assert claim_pending_alerts(engine, limit=1, visibility_timeout=LEASE, now=later)
    assert retry_alert(engine, "no-such-alert") is False


# -- reading ----------------------------------------------------------------------------------------------

def test_list_alerts_filters_by_status_since_and_card(engine: Engine) -> None:
    for i, card in enumerate(["card-a", "card-b", "card-a", None]):
        add_alert(engine, f"tx-{i}", card_id=card, created_at=T0 + timedelta(minutes=i))
    mark_sent(engine, [alert_id_for("tx-0")], T0)
    fail(engine, alert_id_for("tx-1"), T0, max_attempts=1)

    def ids(**filters: Any) -> list[str]:
        return [item.transaction_id for item in list_alerts(engine, **filters).items]

    assert ids() == ["tx-3", "tx-2", "tx-1", "tx-0"]
    assert ids(status=SENT) == ["tx-0"]
    assert ids(status=FAILED) == ["tx-1"]
    assert ids(status=PENDING) == ["tx-3", "tx-2"]
    assert ids(since=T0 + timedelta(minutes=2)) == ["tx-3", "tx-2"]
    assert ids(card_id="card-a") == ["tx-2", "tx-0"]
    assert ids(card_id="card-a", status=PENDING, since=T0) == ["tx-2"]


def test_cursor_pagination_walks_every_alert_exactly_once_newest_first(engine: Engine) -> None:
    # Groups of three share a created_at, so the id tie-break is exercised on page boundaries.
    for i in range(25):
        add_alert(engine, f"tx-{i:02d}", created_at=T0 + timedelta(seconds=i // 3))
    seen: list[tuple[datetime, str]] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = list_alerts(engine, limit=4, cursor=cursor)
        pages += 1
        seen.extend((item.created_at, item.alert_id) for item in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert pages == 7
    assert len(seen) == 25 and len(set(seen)) == 25
    assert seen == sorted(seen, reverse=True)


def test_each_listed_alert_has_exactly_the_contract_fields(engine: Engine) -> None:
    add_alert(engine, "tx-1", card_id="card-42")

    item = list_alerts(engine).items[0]

    # The record also carries the payload the sink receives (the view shows its reasons and what it covers)
    # and its type (an alert, or an update of one).
    assert [f.name for f in dataclasses.fields(item)] == [*CONTRACT_FIELDS, "payload", "type"]
    assert {k: v for k, v in dataclasses.asdict(item).items() if k != "payload"} == {
        "alert_id": alert_id_for("tx-1"), "transaction_id": "tx-1", "card_id": "card-42", "score": 0.93,
        "threshold": 0.8, "model_version": 3, "created_at": T0, "status": PENDING, "attempts": 0,
        "sent_at": None, "last_error": None, "type": "fraud_alert",
    }


@pytest.mark.parametrize("cursor", ["not a cursor!", "WzFd", outbox.encode_cursor(T0, "x")[:-3]])
def test_a_cursor_the_api_did_not_hand_out_is_refused(engine: Engine, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        list_alerts(engine, cursor=cursor)


def test_alert_for_transaction_and_count_by_status(engine: Engine) -> None:
    assert count_by_status(engine) == {PENDING: 0, SENT: 0, FAILED: 0}
    for i in range(3):
        add_alert(engine, f"tx-{i}")
    mark_sent(engine, [alert_id_for("tx-0")], T0)

    assert count_by_status(engine) == {PENDING: 2, SENT: 1, FAILED: 0}
    found = alert_for_transaction(engine, "tx-0")
    assert found is not None and (found.alert_id, found.status, found.sent_at) == (alert_id_for("tx-0"), SENT, T0)
    assert alert_for_transaction(engine, "tx-unknown") is None
