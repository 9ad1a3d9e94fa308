"""Every kind of problem answers with its own `type` URI, documented in docs/api.md; `about:blank` only with
the plain status phrase as its title (RFC 9457)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from fraudlog.api.dependencies import services_of
from fraudlog.api.problems import BLANK, PROBLEM_KINDS
from fraudlog.config import ApiKey, Settings
from tests.support.alerts import alerted_transaction
from tests.support.api import api_client
from tests.support.data import transaction_body
from tests.support.models import SECRET

API_DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
ADMIN, INGEST = "k-admin-0123456789", "k-ingest-0123456789"
Call = Callable[[TestClient[Any]], Any]


def _as(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _json(key: str) -> dict[str, str]:
    return {**_as(key), "Content-Type": "application/json"}


# What a client does, and the kind of problem it must get back.
CASES: dict[str, tuple[Call, str]] = {
    "malformed-json": (lambda c: c.post("/v1/transactions", content=b"{nope", headers=_json(INGEST)),
                       "malformed-json"),
    "unsupported-media-type": (lambda c: c.post("/v1/transactions", content=b"{}", headers=_as(INGEST)),
                               "unsupported-media-type"),
    "invalid-body": (lambda c: c.post("/v1/transactions", json=transaction_body(1, amount=-1), headers=_as(INGEST)),
                     "invalid-body"),
    "transaction-conflict": (lambda c: [c.post("/v1/transactions", json=transaction_body(1), headers=_as(INGEST)),
                                        c.post("/v1/transactions", json=transaction_body(1, amount=2.0),
                                               headers=_as(INGEST))][-1], "transaction-conflict"),
    "unknown-transaction": (lambda c: c.get("/v1/transactions/tx-none", headers=_as(ADMIN)), "unknown-transaction"),
    "unknown-model-version": (lambda c: c.get("/v1/models/7", headers=_as(ADMIN)), "unknown-model-version"),
    "no-champion": (lambda c: c.post("/v1/predict", json={"transaction": transaction_body(2)}, headers=_as(ADMIN)),
                    "no-champion"),
    "invalid-parameter": (lambda c: c.get("/v1/alerts?limit=0", headers=_as(ADMIN)), "invalid-parameter"),
    "invalid-cursor": (lambda c: c.get("/v1/predictions/stream", headers={**_as(ADMIN), "Last-Event-ID": "nope"}),
                       "invalid-cursor"),
    "invalid-query": (lambda c: c.get("/v1/alerts?since=yesterday", headers=_as(ADMIN)), "invalid-query"),
    "authentication-required": (lambda c: c.get("/v1/stats"), "authentication-required"),
    "invalid-api-key": (lambda c: c.get("/v1/stats", headers=_as("not-a-key")), "invalid-api-key"),
    "forbidden": (lambda c: c.get("/v1/stats", headers=_as(INGEST)), "forbidden"),
    "body-too-large": (lambda c: c.post("/v1/transactions", content=b"[" + b" " * 2048 + b"]",
                                               headers=_json(INGEST)),
                       "body-too-large"),
    "unknown-suppression": (lambda c: c.delete("/v1/cards/card-1/suppressions/no-such-id", headers=_as(ADMIN)),
                            "unknown-suppression"),
    "unknown-alert": (lambda c: c.post("/v1/alerts/no-such-alert/outcome", headers=_as(ADMIN),
                                       json={"outcome": "not_fraud", "answered_by": "analyst"}), "unknown-alert"),
    "alert-not-delivered": (lambda c: _answer_undelivered_alert(c), "alert-not-delivered"),
    "route that does not exist": (lambda c: c.get("/v1/nothing-here", headers=_as(ADMIN)), BLANK),
    "method the route does not allow": (lambda c: c.delete("/v1/models", headers=_as(ADMIN)), BLANK),
}


def _answer_undelivered_alert(client: TestClient[Any]) -> Any:
    alert_id, _ = alerted_transaction(services_of(client.app).engine, delivered=False)
    return client.post(f"/v1/alerts/{alert_id}/outcome", headers=_as(ADMIN),
                       json={"outcome": "not_fraud", "answered_by": "customer"})


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient[Any]]:
    keys = (ApiKey("admin", "admin", ADMIN), ApiKey("ingest", "ingest", INGEST))
    settings = Settings(database_url=sqlite_url, secret_key=SECRET, api_keys=keys, alert_sink="memory://",
                        max_body_bytes=1024)
    with api_client(settings) as c:
        yield c


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_problem_kind_answers_with_its_own_type_status_and_title(client: TestClient[Any], case: str) -> None:
    act, kind_name = CASES[case]
    response = act(client)
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == response.status_code
    if kind_name == BLANK:
        assert problem["type"] == BLANK
        assert problem["title"] == HTTPStatus(response.status_code).phrase
    else:
        kind = PROBLEM_KINDS[kind_name]
        assert (problem["type"], problem["title"], response.status_code) == (kind.type, kind.title, kind.status)


def test_every_kind_has_a_distinct_type_documented_in_the_api_docs() -> None:
    documented = set(re.findall(r"`(https://fraudlog\.dev/problems/[a-z-]+)`", API_DOCS.read_text()))
    types = [kind.type for kind in PROBLEM_KINDS.values()]
    assert len(set(types)) == len(types)
    assert set(types) == documented


def test_every_kind_a_client_can_cause_is_exercised() -> None:
    """Internal errors and an unavailable database aside (other tests cause those), each kind has a case here."""
    exercised = {kind for _, kind in CASES.values()}
    assert set(PROBLEM_KINDS) - exercised == {"internal-error", "database-unavailable", "rate-limited",
                                              "artifact-rejected", "version-unservable",
                                              "too-many-streams"}
