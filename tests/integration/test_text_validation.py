"""Odd text is refused or made canonical (issue 27, defect 9; docs/api.md, "Text"): attribute names and text
values holding C1 controls, bidirectional overrides, line separators or invisible characters are refused with
a problem naming the field; a JSON object naming a key twice is refused; names and values are stored in
Unicode NFC, so that one text sent composed or decomposed is one value. A refused batch stores nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient

from fraudlog.config import Settings
from fraudlog.store.engine import create_engine
from fraudlog.store.tables import events
from tests.support.api import api_client
from tests.support.data import transaction_body

PROBLEM = "application/problem+json"


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient[Any]]:
    with api_client(Settings(database_url=sqlite_url, secret_key=b"k")) as client:
        yield client


def stored_attributes(url: str) -> list[dict[str, Any]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            payloads = conn.execute(sa.select(events.c.payload).order_by(events.c.position)).scalars().all()
    finally:
        engine.dispose()
    return [(json.loads(p) if isinstance(p, str) else p)["attributes"] for p in payloads]


def post(client: TestClient[Any], body: Any) -> Any:
    return client.post("/v1/transactions", content=body if isinstance(body, bytes) else json.dumps(body).encode(),
                       headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("name", ["a\u0085b", "a\u009bb", "risk\u202e", "x\u2028y", "\u200bcountry",
                                  "\ufeffcountry", "a\u2066b"])
def test_an_attribute_name_with_an_unprintable_character_is_refused(client: TestClient[Any], sqlite_url: str,
                                                                     name: str) -> None:
    good = transaction_body(1)
    bad = {**transaction_body(2), "attributes": {name: "x"}}
    response = post(client, [good, bad])
    assert response.status_code == 422 and response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["errors"][0]["pointer"].startswith("/1/attributes/")
    assert stored_attributes(sqlite_url) == []  # the good one is not stored either


@pytest.mark.parametrize("value", ["FR\u202e", "line\u2028break", "zero\u200bwidth", "\ufeffUS", "a\u0085",
                                   "left\u200eright"])
def test_a_text_value_with_an_unprintable_character_is_refused(client: TestClient[Any], sqlite_url: str,
                                                               value: str) -> None:
    response = post(client, {**transaction_body(1), "attributes": {"country": value}})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"] == "/attributes/country"
    assert stored_attributes(sqlite_url) == []


def test_joiners_that_scripts_and_emoji_need_are_accepted(client: TestClient[Any]) -> None:
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467"
    assert post(client, {**transaction_body(1), "attributes": {"merchant_id": family,
                                                               "city": "\u0645\u06cc\u200c\u0634\u0648\u062f"}}
                ).status_code == 202


def test_a_key_named_twice_in_one_object_is_refused(client: TestClient[Any], sqlite_url: str) -> None:
    body = json.dumps(transaction_body(1))
    twice_amount = body[:-1] + ', "amount": 999999.0}'
    response = post(client, twice_amount.encode())
    assert response.status_code == 422, response.text
    assert '"amount" appears twice' in response.json()["errors"][0]["detail"]
    twice_attribute = json.dumps({**transaction_body(2), "attributes": {"country": "FR"}}).replace(
        '{"country": "FR"}', '{"country": "FR", "country": "US"}')
    assert post(client, twice_attribute.encode()).status_code == 422
    assert stored_attributes(sqlite_url) == []


def test_text_is_stored_in_nfc_so_composed_and_decomposed_are_one_value(client: TestClient[Any],
                                                                      sqlite_url: str) -> None:
    decomposed = {**transaction_body(1), "attributes": {"cafe\u0301": 1.0, "city": "Montre\u0301al"}}
    composed = {**transaction_body(2), "attributes": {"caf\u00e9": 2.0, "city": "Montr\u00e9al"}}
    assert post(client, [decomposed, composed]).status_code == 202
    assert stored_attributes(sqlite_url) == [{"caf\u00e9": 1.0, "city": "Montr\u00e9al"},
                                             {"caf\u00e9": 2.0, "city": "Montr\u00e9al"}]
    # The same transaction sent again decomposed is the same transaction: a duplicate, not a conflict.
    again = post(client, {**composed, "attributes": {"cafe\u0301": 2.0, "city": "Montre\u0301al"}})
    assert again.status_code == 200, again.text


def test_two_names_that_are_one_once_normalized_are_refused(client: TestClient[Any], sqlite_url: str) -> None:
    response = post(client, {**transaction_body(1), "attributes": {"cafe\u0301": 1.0, "caf\u00e9": 2.0}})
    assert response.status_code == 422, response.text
    assert "NFC" in response.json()["errors"][0]["detail"]
    assert stored_attributes(sqlite_url) == []
