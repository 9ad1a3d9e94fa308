"""MessagePack ingest (issue 30): the same Structs as JSON, so the same limits, errors and digests; a retry in
JSON of a MessagePack POST is the same transaction. On SQLite and Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from fraudlog.api.dependencies import services_of
from fraudlog.config import Settings
from fraudlog.store.engine import create_engine
from fraudlog.store.event_log import EventLog
from tests.support.api import api_client
from tests.support.data import transaction_body

MSGPACK = {"content-type": "application/msgpack"}
PROBLEM = "application/problem+json"


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient[Any]]:
    with api_client(Settings(database_url=database_url, secret_key=b"k")) as client:
        yield client


def stored(client: TestClient[Any]) -> int:
    engine = create_engine(str(services_of(client.app).engine.url.render_as_string(hide_password=False)))
    try:
        return EventLog(engine).count()
    finally:
        engine.dispose()


def post_msgpack(client: TestClient[Any], path: str, body: Any) -> Any:
    return client.post(path, content=msgspec.msgpack.encode(body), headers=MSGPACK)


def test_a_msgpack_transaction_is_accepted_and_its_json_retry_is_a_duplicate(client: TestClient[Any]) -> None:
    first = post_msgpack(client, "/v1/transactions", transaction_body(1))
    assert first.status_code == 202, first.text
    again = client.post("/v1/transactions", json=transaction_body(1))
    assert again.status_code == 200 and again.json() == {**first.json(), "status": "duplicate"}
    assert stored(client) == 1


def test_a_json_transaction_retried_in_msgpack_with_a_native_timestamp_is_a_duplicate(
        client: TestClient[Any]) -> None:
    body = transaction_body(1, event_time="2026-11-28T03:00:00Z")
    assert client.post("/v1/transactions", json=body).status_code == 202
    native = {**body, "event_time": datetime(2026, 11, 28, 3, tzinfo=UTC)}  # MessagePack's timestamp type
    again = post_msgpack(client, "/v1/transactions", [native])
    assert again.status_code == 200 and again.json()[0]["status"] == "duplicate"
    changed = post_msgpack(client, "/v1/transactions", {**native, "amount": body["amount"] + 1})
    assert changed.status_code == 409, changed.text  # same id, another body: refused whatever the encoding


def test_a_msgpack_batch_and_label_are_recorded(client: TestClient[Any]) -> None:
    response = post_msgpack(client, "/v1/transactions", [transaction_body(i) for i in range(1, 4)])
    assert response.status_code == 202 and [r["position"] for r in response.json()] == [1, 2, 3]
    label = post_msgpack(client, "/v1/labels", {"transaction_id": "tx-000002", "is_fraud": True})
    assert label.status_code == 202, label.text
    assert client.post("/v1/labels", json={"transaction_id": "tx-000002", "is_fraud": True}).status_code == 200


@pytest.mark.parametrize("bad, pointer", [
    ({"attributes": {"x": float("nan")}}, "/attributes/x"),  # JSON cannot carry NaN; MessagePack can
    ({"attributes": {"x": float("inf")}}, "/attributes/x"),
    ({"amount": float("inf")}, "/amount"),
    ({"amount": float("nan")}, "/amount"),
    ({"amount": "12"}, "/amount"),
    ({"colour": "red"}, "/colour"),
])
def test_a_bad_msgpack_transaction_is_refused_naming_the_field_and_writes_nothing(
        client: TestClient[Any], bad: dict[str, Any], pointer: str) -> None:
    response = post_msgpack(client, "/v1/transactions", [transaction_body(1), {**transaction_body(2), **bad}])
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert {e["pointer"] for e in response.json()["errors"]} == {f"/1{pointer}"}
    assert stored(client) == 0


def test_msgpack_bodies_obey_the_same_limits_as_json(client: TestClient[Any]) -> None:
    many = {**transaction_body(1), "attributes": {f"a{i}": 1.0 for i in range(300)}}
    as_json, as_msgpack = client.post("/v1/transactions", json=many), post_msgpack(client, "/v1/transactions", many)
    assert as_json.status_code == as_msgpack.status_code == 422
    assert as_json.json()["errors"] == as_msgpack.json()["errors"]
    assert post_msgpack(client, "/v1/transactions", []).status_code == 422
    assert stored(client) == 0


def test_malformed_msgpack_is_a_client_error(client: TestClient[Any]) -> None:
    response = client.post("/v1/transactions", content=b"\xc1\xff", headers=MSGPACK)
    assert response.status_code in (400, 422), response.text
    assert "MessagePack" in response.text
    assert stored(client) == 0


def test_predict_still_takes_json_only(client: TestClient[Any]) -> None:
    response = post_msgpack(client, "/v1/predict", {"transaction": transaction_body(1)})
    assert response.status_code == 415


def test_the_python_client_sends_msgpack_and_its_json_retry_is_a_duplicate(database_url: str) -> None:
    from fraudlog.api.server import serve_in_thread
    from fraudlog.client import FraudlogClient
    from tests.support.api import build_app

    app = build_app(Settings(database_url=database_url, secret_key=b"k"))
    with serve_in_thread(app) as url, FraudlogClient(url, encoding="msgpack") as binary, FraudlogClient(url) as text:
        sent = binary.submit([transaction_body(1), transaction_body(2)])
        assert [r.status for r in sent] == ["accepted", "accepted"]
        again = text.submit(transaction_body(2))
        assert again[0].status == "duplicate" and again[0].position == sent[1].position
        assert binary.label({"transaction_id": "tx-000001", "is_fraud": False})[0].status == "accepted"
