"""POST /v1/transactions and /v1/labels: idempotency, all-or-nothing batches, and every bad input refused
with a problem document that names the field, writing nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

import fraudlog
from fraudlog.api.dependencies import services_of
from fraudlog.config import Settings
from fraudlog.store.engine import create_engine
from fraudlog.store.event_log import EventLog
from tests.support.api import api_client
from tests.support.data import transaction_body

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


def pointers(response: Any) -> set[str]:
    assert response.headers["content-type"].startswith(PROBLEM), response.text
    return {error["pointer"] for error in response.json()["errors"]}


def test_new_transaction_is_accepted_with_its_position(client: TestClient[Any]) -> None:
    response = client.post("/v1/transactions", json=transaction_body(1))
    assert response.status_code == 202
    assert response.json() == {"transaction_id": "tx-000001", "position": 1, "status": "accepted"}


def test_identical_repost_answers_200_duplicate_with_original_position(client: TestClient[Any]) -> None:
    client.post("/v1/transactions", json=transaction_body(1))
    client.post("/v1/transactions", json=transaction_body(2))
    again = client.post("/v1/transactions", json=transaction_body(1))
    assert again.status_code == 200 and again.json()["status"] == "duplicate" and again.json()["position"] == 1
    assert stored(client) == 2


def test_same_instant_in_another_offset_is_a_duplicate(client: TestClient[Any]) -> None:
    client.post("/v1/transactions", json=transaction_body(1, event_time="2026-11-28T03:00:00Z"))
    again = client.post("/v1/transactions", json=transaction_body(1, event_time="2026-11-28T04:00:00+01:00"))
    assert again.status_code == 200


def test_same_id_with_different_body_answers_409_and_stores_nothing(client: TestClient[Any]) -> None:
    client.post("/v1/transactions", json=transaction_body(1))
    response = client.post("/v1/transactions", json=[transaction_body(5), transaction_body(1, amount=1.5)])
    assert response.status_code == 409 and pointers(response) == {"/1/transaction_id"}
    assert stored(client) == 1


def test_batch_is_accepted_whole(client: TestClient[Any]) -> None:
    response = client.post("/v1/transactions", json=[transaction_body(n) for n in range(1, 1001)])
    assert response.status_code == 202
    receipts = response.json()
    assert len(receipts) == 1000 and [r["position"] for r in receipts] == list(range(1, 1001))


def test_batch_with_repeated_identical_item_stores_it_once(client: TestClient[Any]) -> None:
    response = client.post("/v1/transactions", json=[transaction_body(1), transaction_body(1)])
    assert response.status_code == 202
    assert [r["status"] for r in response.json()] == ["accepted", "duplicate"]
    assert {r["position"] for r in response.json()} == {1} and stored(client) == 1


BAD_TRANSACTIONS: dict[str, tuple[Any, int, set[str]]] = {
    "missing fields": ({"transaction_id": "tx-1"}, 422, {"/event_time", "/amount"}),
    "wrong types": (transaction_body(1, amount="12.5", card_id=7), 422, {"/amount", "/card_id"}),
    "negative amount": (transaction_body(1, amount=-0.01), 422, {"/amount"}),
    "id outside the alphabet": (transaction_body(1, transaction_id="tx 1/2"), 422, {"/transaction_id"}),
    "id too long": (transaction_body(1, transaction_id="x" * 129), 422, {"/transaction_id"}),
    "empty id": (transaction_body(1, transaction_id=""), 422, {"/transaction_id"}),
    # Python's `$` matches before a final newline: every id rule must match the whole string.
    "id with a trailing newline": (transaction_body(1, transaction_id="tx-1\n"), 422, {"/transaction_id"}),
    "128 characters and a newline": (transaction_body(1, transaction_id="x" * 128 + "\n"), 422, {"/transaction_id"}),
    "card id with a trailing newline": (transaction_body(1, card_id="card-1\n"), 422, {"/card_id"}),
    "attribute name with a trailing newline": (transaction_body(1, attributes={"V1\n": 1.0}), 422,
                                               {"/attributes/V1\n"}),
    "card id outside the alphabet": (transaction_body(1, card_id="card#1"), 422, {"/card_id"}),
    "timestamp without offset": (transaction_body(1, event_time="2026-11-28T03:00:00"), 422, {"/event_time"}),
    "not a timestamp": (transaction_body(1, event_time="yesterday"), 422, {"/event_time"}),
    "unknown top-level field": (transaction_body(1, amuont=3), 422, {"/amuont"}),
    "attribute neither a number nor text": (transaction_body(1, attributes={"V1": [1], "V2": 1}), 422,
                                            {"/attributes/V1"}),
    "attribute name too long": (transaction_body(1, attributes={"V" * 65: 1.0}), 422, {"/attributes/" + "V" * 65}),
    "too many attributes": (transaction_body(1, attributes={f"a{i}": 1.0 for i in range(257)}), 422,
                            {"/attributes"}),
    "attribute name with a control character": (transaction_body(1, attributes={"a\u0000b": 1.0}), 422,
                                                 {"/attributes/a\u0000b"}),
    "event time before 1970": (transaction_body(1, event_time="0999-01-01T00:00:00Z"), 422, {"/event_time"}),
    "event time outside UTC": (transaction_body(1, event_time="0001-01-01T00:00:00+01:00"), 422, {"/event_time"}),
    "not an object": ("hello", 422, {""}),
    "empty array": ([], 422, {""}),
    "bad item inside a batch": ([transaction_body(1), transaction_body(2, amount=-1)], 422, {"/1/amount"}),
    "every bad field of every item": ([transaction_body(1, amount=-1), transaction_body(2, event_time="x")], 422,
                                      {"/0/amount", "/1/event_time"}),
    "same id twice in a batch with different bodies": (
        [transaction_body(1), transaction_body(2), transaction_body(1, amount=3.0)], 422, {"/2/transaction_id"}),
}


@pytest.mark.parametrize("case", sorted(BAD_TRANSACTIONS))
def test_bad_transaction_is_refused_naming_the_field(client: TestClient[Any], case: str) -> None:
    body, status, expected = BAD_TRANSACTIONS[case]
    response = client.post("/v1/transactions", json=body)
    assert response.status_code == status
    assert pointers(response) == expected
    assert response.json()["status"] == status and response.json()["title"]
    assert stored(client) == 0


@pytest.mark.parametrize("raw, pointer", [
    (b'{"transaction_id": "tx-1", "event_time": "2026-11-28T03:00:00Z", "amount": NaN}', "/amount"),
    (b'{"transaction_id": "tx-1", "event_time": "2026-11-28T03:00:00Z", "amount": Infinity}', "/amount"),
    (b'{"transaction_id": "tx-1", "event_time": "2026-11-28T03:00:00Z", "amount": 1e400}', "/amount"),
    (b'{"transaction_id": "tx-1", "event_time": "2026-11-28T03:00:00Z", "amount": 1, '
     b'"attributes": {"V3": -Infinity}}', "/attributes/V3"),
])
def test_non_finite_numbers_are_refused(client: TestClient[Any], raw: bytes, pointer: str) -> None:
    response = client.post("/v1/transactions", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422 and pointers(response) == {pointer}
    assert stored(client) == 0


def test_malformed_json_answers_400(client: TestClient[Any]) -> None:
    response = client.post("/v1/transactions", content=b'{"transaction_id": ',
                           headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.headers["content-type"].startswith(PROBLEM)
    assert "malformed JSON" in response.json()["detail"]
    assert stored(client) == 0


def test_batch_of_10001_items_is_refused_whole(client: TestClient[Any]) -> None:
    response = client.post("/v1/transactions", json=[transaction_body(n) for n in range(10_001)])
    assert response.status_code == 422 and pointers(response) == {""}
    assert "10000" in response.json()["errors"][0]["detail"]
    assert stored(client) == 0


def test_body_over_10_mib_answers_413(client: TestClient[Any]) -> None:
    body = json.dumps([transaction_body(1, attributes={f"a{i}": 1.0 for i in range(256)})] * 4_000).encode()
    assert len(body) > 10 * 1024 * 1024
    response = client.post("/v1/transactions", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.headers["content-type"].startswith(PROBLEM)
    assert stored(client) == 0


def test_label_lifecycle(client: TestClient[Any]) -> None:
    first = client.post("/v1/labels", json={"transaction_id": "tx-000001", "is_fraud": True})
    same = client.post("/v1/labels", json={"transaction_id": "tx-000001", "is_fraud": True})
    changed = client.post("/v1/labels", json=[{"transaction_id": "tx-000001", "is_fraud": False,
                                               "labeled_at": "2026-11-28T05:00:00Z"}])
    assert (first.status_code, same.status_code, changed.status_code) == (202, 200, 202)
    assert same.json()["position"] == first.json()["position"]
    assert changed.json()[0]["status"] == "correction"


def test_label_for_an_id_with_a_trailing_newline_is_refused(client: TestClient[Any]) -> None:
    response = client.post("/v1/labels", json={"transaction_id": "x" * 128 + "\n", "is_fraud": True})
    assert response.status_code == 422 and pointers(response) == {"/transaction_id"}
    assert stored(client) == 0


def test_ids_that_cannot_exist_are_refused_before_the_database_sees_them(client: TestClient[Any]) -> None:
    client.post("/v1/transactions", json=transaction_body(1, transaction_id="tx-1"))
    assert client.get("/v1/transactions/tx-1%0A").status_code == 400
    assert client.get("/v1/transactions/" + "x" * 129).status_code == 400
    assert client.get("/v1/alerts", params={"card_id": "card-1\n"}).status_code == 400


def test_bad_label_is_refused(client: TestClient[Any]) -> None:
    response = client.post("/v1/labels", json={"transaction_id": "tx 1", "is_fraud": "yes", "extra": 1})
    assert response.status_code == 422
    assert pointers(response) == {"/transaction_id", "/is_fraud", "/extra"}
    assert stored(client) == 0


def test_get_transaction_shows_the_event(client: TestClient[Any]) -> None:
    client.post("/v1/transactions", json=transaction_body(3))
    client.post("/v1/labels", json={"transaction_id": "tx-000003", "is_fraud": True})
    view = client.get("/v1/transactions/tx-000003").json()
    assert view["transaction"]["amount"] == 13.0 and view["transaction"]["position"] == 1
    assert view["predictions"] == [] and view["label"]["is_fraud"] is True and view["alert"] is None
    missing = client.get("/v1/transactions/nope")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith(PROBLEM)


def test_health_ready_and_openapi(client: TestClient[Any]) -> None:
    assert client.get("/health").json() == {"status": "ok", "version": fraudlog.__version__}
    assert client.get("/ready").status_code == 200
    schema = client.get("/schema/openapi.json").json()
    body = schema["paths"]["/v1/transactions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["oneOf"][0]["required"] == ["transaction_id", "event_time", "amount"]
