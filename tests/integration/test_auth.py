"""API keys and roles on every endpoint, hashed keys, the rate limit, and keys never logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from fraudlog.api.auth import configured_entry
from fraudlog.config import ApiKey, Settings, parse_api_keys
from tests.support.api import api_client
from tests.support.data import transaction_body
from tests.support.models import SECRET

KEYS = {"ingest": "k-ingest-0123456789", "analyst": "k-analyst-0123456789", "admin": "k-admin-0123456789"}
# Every protected endpoint and the role it needs; admin holds every role.
ENDPOINTS: list[tuple[str, str, str, Any]] = [
    ("POST", "/v1/transactions", "ingest", transaction_body(1)),
    ("POST", "/v1/labels", "ingest", {"transaction_id": "tx-000001", "is_fraud": False}),
    ("GET", "/v1/transactions/tx-000001", "analyst", None),
    ("POST", "/v1/predict", "analyst", {"transaction": transaction_body(2)}),
    ("GET", "/v1/models", "analyst", None),
    ("GET", "/v1/models/1", "analyst", None),
    ("POST", "/v1/models/1/promote", "admin", None),
    ("POST", "/v1/models/1/retire", "admin", None),
    ("GET", "/v1/alerts", "analyst", None),
    ("GET", "/v1/drift", "analyst", None),
    ("GET", "/v1/stats", "analyst", None),
    ("GET", "/metrics", "analyst", None),
]
OPEN = [("GET", "/health"), ("GET", "/ready"), ("GET", "/schema/openapi.json")]


def settings_for(url: str, **overrides: Any) -> Settings:
    keys = tuple(ApiKey(role, role, key) for role, key in KEYS.items())
    return Settings(database_url=url, secret_key=SECRET, api_keys=keys, alert_sink="memory://", **overrides)


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient[Any]]:
    with api_client(settings_for(sqlite_url)) as c:
        yield c


def call(client: TestClient[Any], method: str, path: str, body: Any, key: str | None) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize("method, path, role, body", ENDPOINTS)
def test_every_endpoint_needs_a_valid_key_of_the_right_role(client: TestClient[Any], method: str, path: str,
                                                            role: str, body: Any) -> None:
    missing = call(client, method, path, body, None)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert call(client, method, path, body, "not-a-key").status_code == 401
    for other, key in KEYS.items():
        status = call(client, method, path, body, key).status_code
        if other == role or other == "admin":
            assert status not in (401, 403), (other, status)
        else:
            assert status == 403, (other, status)


def test_nothing_is_stored_by_a_refused_request(client: TestClient[Any]) -> None:
    call(client, "POST", "/v1/transactions", transaction_body(5), KEYS["analyst"])
    call(client, "POST", "/v1/transactions", transaction_body(5), None)
    view = call(client, "GET", "/v1/transactions/tx-000005", None, KEYS["analyst"])
    assert view.status_code == 404


@pytest.mark.parametrize("method, path", OPEN)
def test_health_ready_and_schema_are_open(client: TestClient[Any], method: str, path: str) -> None:
    assert client.request(method, path).status_code == 200


def test_a_hashed_key_entry_authenticates_without_the_plaintext_configured(sqlite_url: str) -> None:
    entry = configured_entry("loader", "ingest", SECRET, "fl_secret_value")
    settings = Settings(database_url=sqlite_url, secret_key=SECRET, api_keys=parse_api_keys(entry))
    assert "fl_secret_value" not in entry
    with api_client(settings) as c:
        assert call(c, "POST", "/v1/transactions", transaction_body(1), "fl_secret_value").status_code == 202
        assert call(c, "POST", "/v1/transactions", transaction_body(2), "fl_other").status_code == 401


def test_rate_limit_answers_429_with_retry_after(sqlite_url: str) -> None:
    settings = settings_for(sqlite_url, rate_limit=1.0, rate_burst=3.0)
    with api_client(settings) as c:
        codes = [call(c, "GET", "/v1/models", None, KEYS["analyst"]).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
        limited = call(c, "GET", "/v1/models", None, KEYS["analyst"])
        assert int(limited.headers["retry-after"]) >= 1
        assert call(c, "GET", "/v1/models", None, KEYS["admin"]).status_code == 200  # a limit per key


def test_keys_never_reach_the_logs(client: TestClient[Any], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        for key in (*KEYS.values(), "wrong-key-value"):
            call(client, "POST", "/v1/transactions", transaction_body(9), key)
    logged = caplog.text
    assert not any(key in logged for key in (*KEYS.values(), "wrong-key-value"))


def test_embedded_mode_without_keys_needs_no_key(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, secret_key=SECRET)
    with api_client(settings) as c:
        assert c.post("/v1/transactions", json=transaction_body(1)).status_code == 202
