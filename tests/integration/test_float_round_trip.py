"""Extreme floats survive the whole path bit for bit on both backends: POST, the log, scoring, the stored
features, the transaction view and replay.

Postgres' JSONB keeps numbers as exact decimals and writes them back without an exponent (1e23 as the
integer 100000000000000000000000) and has no negative zero; SQLite stores JSON text. Neither may change a
value a model is given or a replay compares.
"""

from __future__ import annotations

import math
import struct
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import hypothesis
import pytest
import sqlalchemy as sa
from hypothesis import strategies as st
from litestar.testing import TestClient
from sqlalchemy.engine import Engine

from fraudlog.api.dependencies import services_of
from fraudlog.config import Settings
from fraudlog.domain.events import TransactionIn, canonical_transaction
from fraudlog.domain.features import TxView
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay import replay
from fraudlog.store.engine import write_transaction
from fraudlog.store.event_log import EventLog
from fraudlog.store.predictions import insert_predictions, predictions_for, stored_predictions
from fraudlog.store.snapshot import read_only_snapshot
from fraudlog.store.tables import predictions
from tests.support.api import api_client
from tests.support.models import SECRET, install_version
from tests.support.processes import wait_until

EXTREMES = [1e23, 1.7976931348623157e308, 5e-324, -0.0, 0.1 + 0.2, 2.2250738585072014e-308, 123456789.12345679]


def bits(value: Any) -> bytes:
    assert type(value) is float, f"{value!r} came back as {type(value).__name__}, not float"
    return struct.pack(">d", value)


def stored_form(value: float) -> float:
    """What the log records: the float itself, with a negative zero recorded as 0.0."""
    return 0.0 if value == 0 else value


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient[Any]]:
    settings = Settings(database_url=database_url, broker_url="memory://", secret_key=SECRET,
                        alert_sink="memory://")
    with api_client(settings, background=True) as client:
        yield client


def post_extremes(client: TestClient[Any]) -> dict[str, float]:
    """One card's transactions, each carrying one extreme value as its amount and an attribute (and its
    negation, where an amount cannot be negative), so the card features sum and divide them too."""
    sent: dict[str, float] = {}
    for index, value in enumerate(EXTREMES):
        transaction_id = f"tx-extreme-{index}"
        body = {"transaction_id": transaction_id, "card_id": "card-extreme", "amount": value,
                "event_time": f"2026-11-28T03:{index:02d}:00Z", "attributes": {"x": value, "y": -value}}
        response = client.post("/v1/transactions", json=body)
        assert response.status_code == 202, response.text
        sent[transaction_id] = value
    return sent


def test_extreme_floats_round_trip_bit_for_bit_through_post_score_and_replay(client: TestClient[Any]) -> None:
    engine: Engine = services_of(client.app).engine
    install_version(engine, model="logreg")
    sent = post_extremes(client)
    log = EventLog(engine)

    def scored() -> bool:
        with read_only_snapshot(engine) as conn:
            return len(stored_predictions(conn, 0, log.last_position(), champions_only=True)) == len(sent)

    wait_until(scored, timeout=60, message="the embedded workers to score every transaction")

    for transaction_id, value in sent.items():
        record = log.get_transaction(transaction_id)
        assert record is not None
        view = TxView.from_payload(record.position, record.payload)
        assert bits(view.amount) == bits(stored_form(value))
        assert bits(view.attributes["x"]) == bits(stored_form(value))
        assert bits(view.attributes["y"]) == bits(stored_form(-value))

        [champion] = [p for p in client.get(f"/v1/transactions/{transaction_id}").json()["predictions"]
                      if p["champion"]]
        # The view's features, as JSON text the client decodes, name the same floats.
        assert champion["features"]["amount"] == stored_form(value)
        assert champion["reproduced"] is True and champion["replay_differences"] == []

    with read_only_snapshot(engine) as conn:
        for prediction in stored_predictions(conn, 0, log.last_position()):
            value = sent[prediction.transaction_id]
            assert bits(prediction.features["amount"]) == bits(stored_form(value))
            assert bits(prediction.features["attr_x"]) == bits(stored_form(value))
            assert bits(prediction.features["attr_y"]) == bits(stored_form(-value))
            assert all(type(v) is float for v in prediction.features.values()), prediction.features

    report = replay(engine, ModelRegistry(engine, SECRET))
    assert report.reproduced, [d.to_dict() for d in report.differences]
    assert report.identical == report.checked >= len(sent)


finite = st.floats(allow_nan=False, allow_infinity=False)


@hypothesis.settings(max_examples=200, deadline=None, database=None,
                     suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(values=st.lists(finite.filter(lambda x: math.copysign(1.0, x) > 0 or x != 0), min_size=1,
                                  max_size=20))
def test_any_float_but_negative_zero_reads_back_from_the_features_column_as_written(
        engine: Engine, values: list[float]) -> None:
    """The store's side of the guarantee, over arbitrary floats rather than a chosen few: what
    `insert_predictions` writes, `stored_predictions` and `predictions_for` read back with the same bits."""
    transaction_id = f"tx-{uuid.uuid4().hex}"
    features: dict[str, Any] = {f"f{i:02d}": value for i, value in enumerate(values)} | {"label": "a string"}
    now = datetime.now(UTC)
    with write_transaction(engine) as conn:
        position = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(predictions.c.position), 0))).scalar_one())
        insert_predictions(conn, [{"transaction_id": transaction_id, "model_version": 1, "position": position + 1,
                                   "champion": True, "score": 0.5, "threshold": 0.9, "features": features,
                                   "event_time": now, "recorded_at": now, "scored_at": now}])
    with read_only_snapshot(engine) as conn:
        [stored] = stored_predictions(conn, position, position + 1)
    [viewed] = predictions_for(engine, transaction_id)
    for read in (stored.features, viewed.features):
        assert read["label"] == "a string"
        assert {name: bits(read[name]) for name in features if name != "label"} == {
            name: struct.pack(">d", value) for name, value in features.items() if name != "label"}


@hypothesis.given(amount=finite.filter(lambda x: x >= 0), attribute=finite)
def test_the_canonical_transaction_holds_no_negative_zero_and_changes_no_other_float(amount: float,
                                                                                      attribute: float) -> None:
    body = TransactionIn(transaction_id="tx-1", event_time=datetime(2026, 11, 28, tzinfo=UTC), amount=amount,
                         attributes={"x": attribute})
    canonical = canonical_transaction(body)
    for stored, sent in ((canonical["amount"], amount), (canonical["attributes"]["x"], attribute)):
        assert bits(stored) == bits(0.0 if sent == 0 else sent)
