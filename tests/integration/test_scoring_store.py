"""The store's hot paths for scoring, on both backends: reading a batch of transactions by type."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from service.domain.events import TransactionIn, canonical_transaction, transaction_event
from service.domain.features import TxView
from service.store.event_log import EventLog
from tests.support.data import label_event

# No zero among them: a zero takes `TxView.from_stored`'s slow path, which would convert any integer anyway.
EXTREMES = {"big": 1e23, "quadrillion": 1e15, "largest": 1.7976931348623157e308, "tiny": 5e-324, "sum": 0.1 + 0.2,
            "whole": 3.0, "text": "FR"}
MOMENT = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def bits(value: Any) -> bytes:
    assert type(value) is float, f"{value!r} came back as {type(value).__name__}, not float"
    return struct.pack(">d", value)


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
    [record, label] = log.read_positions(positions)
    assert TxView.from_payload(record.position, record.payload) == view and label.event_type == "label"
    assert log.read_transactions([]) == []
