"""The store's hot paths for scoring, on both backends: reading a batch of transactions by type, and inserting
predictions as one statement that still ignores rows already present (invariant 5, docs/INVARIANTS.md)."""

from __future__ import annotations

import struct
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.domain.events import TransactionIn, canonical_transaction, transaction_event
from fraudlog.domain.features import TxView, history_query
from fraudlog.store import outbox
from fraudlog.store.engine import create_engine, write_transaction
from fraudlog.store.event_log import EventLog
from fraudlog.store.history import fetch_history
from fraudlog.store.predictions import existing_predictions, insert_predictions
from fraudlog.store.tables import predictions
from tests.support.data import label_event
from tests.support.event_log import read_positions

# No zero among them: a zero takes `TxView.from_stored`'s slow path, which would convert any integer anyway.
EXTREMES = {"big": 1e23, "quadrillion": 1e15, "largest": 1.7976931348623157e308, "tiny": 5e-324, "sum": 0.1 + 0.2,
            "whole": 3.0, "text": "FR"}
MOMENT = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def bits(value: Any) -> bytes:
    assert type(value) is float, f"{value!r} came back as {type(value).__name__}, not float"
    return struct.pack(">d", value)


def prediction(transaction_id: str, score: float, *, version: int = 1) -> dict[str, Any]:
    return {"transaction_id": transaction_id, "model_version": version, "position": 1, "champion": True,
            "score": score, "threshold": 0.5, "features": {"amount": 1e23, "attr_country": "FR"},
            "event_time": MOMENT, "recorded_at": MOMENT, "scored_at": MOMENT, "environment_drift": None}


def stored_scores(engine: Engine) -> dict[str, float]:
    with engine.connect() as conn:
        return {tx: score for tx, score in conn.execute(sa.select(predictions.c.transaction_id, predictions.c.score))}


def test_read_transactions_gives_the_view_of_the_payload_with_every_number_a_float(engine: Engine) -> None:
    sent = TransactionIn(transaction_id="tx-big", event_time=MOMENT, amount=1e23, card_id="card-1",
                         attributes=dict(reversed(EXTREMES.items())))
    log = EventLog(engine)
    [transaction] = log.append_transactions([[transaction_event(sent)]])
    [label] = log.append_labels([[label_event("tx-big", True, MOMENT)]])
    positions = [transaction.receipts[0].position, label.receipts[0].position]

    [read] = log.read_transactions([*positions, 10_000])  # labels and absent positions are left out
    view = read.view
    # Postgres' JSONB hands 1e23 back as an integer: the typed decoding must give the float back bit for bit.
    assert view == TxView.from_payload(positions[0], canonical_transaction(sent))
    assert list(view.attributes) == sorted(EXTREMES)
    assert {name: bits(value) for name, value in view.attributes.items() if name != "text"} == {
        name: bits(value) for name, value in EXTREMES.items() if name != "text"}
    assert bits(view.amount) == bits(1e23) and view.attributes["text"] == "FR"
    assert read.recorded_at.tzinfo is UTC and view.event_time == MOMENT
    [record, label] = read_positions(log.engine, positions)
    assert TxView.from_payload(record.position, record.payload) == view and label.event_type == "label"
    assert log.read_transactions([]) == []


def test_a_redelivered_batch_inserts_nothing_and_keeps_the_first_rows(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        insert_predictions(conn, [prediction("tx-a", 0.25), prediction("tx-b", 0.5)])
    with write_transaction(engine) as conn:
        insert_predictions(conn, [prediction("tx-b", 0.75), prediction("tx-a", 0.75), prediction("tx-c", 0.75)])
        assert existing_predictions(conn, ["tx-a", "tx-b", "tx-c", "tx-none"]) == {("tx-a", 1), ("tx-b", 1),
                                                                                   ("tx-c", 1)}
    assert stored_scores(engine) == {"tx-a": 0.25, "tx-b": 0.5, "tx-c": 0.75}
    with engine.connect() as conn:
        stored = conn.execute(sa.select(predictions.c.features, predictions.c.event_time)).first()
    assert stored is not None and stored.event_time == MOMENT
    assert stored.features["attr_country"] == "FR" and float(stored.features["amount"]) == 1e23


def test_a_batch_inserted_while_another_writes_the_same_keys_writes_only_the_new_ones(engine: Engine) -> None:
    failures: list[BaseException] = []

    def concurrent_sweep() -> None:
        try:
            with write_transaction(engine) as conn:
                insert_predictions(conn, [prediction(f"tx-{i}", 0.75) for i in range(0, 300)])
        except BaseException as error:
            failures.append(error)

    with write_transaction(engine) as conn:
        insert_predictions(conn, [prediction(f"tx-{i}", 0.25) for i in range(0, 200)])
        sweep = threading.Thread(target=concurrent_sweep)
        sweep.start()
        time.sleep(0.5)
        assert sweep.is_alive(), "the second writer should wait for the first one's keys"
    sweep.join(timeout=30)
    assert not sweep.is_alive() and failures == []
    scores = stored_scores(engine)
    assert len(scores) == 300
    assert all(scores[f"tx-{i}"] == 0.25 for i in range(200))
    assert all(scores[f"tx-{i}"] == 0.75 for i in range(200, 300))


@pytest.mark.postgres
def test_history_times_are_utc_whatever_the_servers_default_zone(pg_url: str) -> None:
    # The history query skips the per-row UTC conversion on Postgres because every session runs in UTC;
    # a database whose default zone is another must still give back UTC times, equal to the stored instants.
    admin = create_engine(pg_url)
    with admin.connect() as conn:
        conn.execute(sa.text(f"ALTER DATABASE {sa.make_url(pg_url).database} SET TimeZone = 'America/New_York'"))
        conn.commit()
    admin.dispose()
    engine = create_engine(pg_url)
    try:
        EventLog(engine).append_transactions([[transaction_event(TransactionIn(
            transaction_id=f"tz-{n}", card_id="card-1", event_time=MOMENT.replace(hour=n), amount=1.0))
            for n in (1, 2)]], MOMENT)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SHOW TimeZone")).scalar_one() == "UTC"
            history = fetch_history(conn, history_query([TxView(99, "later", "card-1", MOMENT.replace(hour=3), 1.0,
                                                                {})]))
        assert [view.event_time for view in history] == [MOMENT.replace(hour=1), MOMENT.replace(hour=2)]
        assert all(view.event_time.tzinfo is UTC for view in history)
    finally:
        engine.dispose()


def test_an_alert_inserted_again_is_ignored_and_reported_as_not_new(engine: Engine) -> None:
    # At most one alert per transaction (invariant 6): a redelivered batch, or two workers scoring it at once,
    # must insert nothing the second time and say so, so that nobody logs or counts the alert twice.
    def alert(transaction_id: str, score: float) -> dict[str, Any]:
        return {"transaction_id": transaction_id, "card_id": "card-1", "score": score, "threshold": 0.5,
                "model_version": 1, "position": 1, "created_at": MOMENT}

    with write_transaction(engine) as conn:
        assert outbox.insert_alerts(conn, [alert("tx-a", 0.9), alert("tx-b", 0.8)]) == {"tx-a", "tx-b"}
    with write_transaction(engine) as conn:
        assert outbox.insert_alerts(conn, [alert("tx-b", 0.7), alert("tx-c", 0.6)]) == {"tx-c"}
    stored = {a.transaction_id: a.score for a in outbox.list_alerts(engine, limit=10).items}
    assert stored == {"tx-a": 0.9, "tx-b": 0.8, "tx-c": 0.6}
