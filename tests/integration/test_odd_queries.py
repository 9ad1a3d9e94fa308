"""Odd requests answered precisely (issue 27 #5, #10, #11): exact media types, out-of-range times and
cursors beyond the log refused as problems, never a 500 or a silent 200. On SQLite and on Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import TestClient

from fraudlog.config import Settings
from fraudlog.store.engine import create_engine, write_transaction
from fraudlog.store.outbox import insert_alert
from tests.support.api import api_client
from tests.support.data import transaction_body

PROBLEM = "application/problem+json"


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient[Any]]:
    with api_client(Settings(database_url=database_url, secret_key=b"k")) as client:
        yield client


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"]
    return body


# -- #5: one charset parameter, as Prometheus 3 requires ------------------------------------------------

@pytest.mark.parametrize("path, media_type", [("/metrics", "text/plain; version=0.0.4; charset=utf-8"),
                                              ("/", "text/html; charset=utf-8")])
def test_text_responses_name_their_charset_exactly_once(client: TestClient[Any], path: str, media_type: str,
                                                        ) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers.get_list("content-type") == [media_type]


# -- #10: a valid time whose UTC instant falls outside year 1..9999 -------------------------------------

def seed_alert(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with write_transaction(engine) as conn:
            insert_alert(conn, transaction_id="tx-1", card_id="card-1", score=0.9, threshold=0.5, model_version=1,
                         position=1, created_at=datetime.now(UTC))
    finally:
        engine.dispose()


@pytest.mark.parametrize("since, expected", [
    ("0001-01-01T00:00:00+01:00", ["tx-1"]),  # 0000-12-31T23:00Z: before every alert (the reproduction)
    ("9999-12-31T23:30:00-01:00", []),  # 10000-01-01T00:30Z: after every alert
])
def test_a_since_beyond_the_calendars_range_in_utc_is_clamped_not_a_500(
        client: TestClient[Any], database_url: str, since: str, expected: list[str]) -> None:
    seed_alert(database_url)
    response = client.get(f"/v1/alerts?since={since.replace('+', '%2B')}")
    assert response.status_code == 200, response.text
    assert [item["transaction_id"] for item in response.json()["items"]] == expected


# -- #11: a cursor beyond the end of the log ------------------------------------------------------------

def post_transactions(client: TestClient[Any], count: int) -> None:
    response = client.post("/v1/transactions", json=[transaction_body(i) for i in range(count)])
    assert response.status_code == 202, response.text


@pytest.mark.parametrize("after", ["999999999999999999", "4", "4:1"])
def test_a_cursor_beyond_the_log_is_refused_with_a_problem_that_says_so(client: TestClient[Any], after: str,
                                                                        ) -> None:
    """A consumer ahead of the log (the database was restored from a backup) must learn it, not skip
    silently the predictions of the positions it claims to have seen."""
    post_transactions(client, 3)
    body = problem(client.get(f"/v1/predictions?after={after}"), 422)
    assert body["type"].endswith("/invalid-query")
    (error,) = body["errors"]
    assert "after" in error["pointer"] and "beyond the end of the log (position 3)" in error["detail"]
    stream = client.get(f"/v1/predictions/stream?after={after}")
    assert problem(stream, 422)["type"].endswith("/invalid-query")


@pytest.mark.parametrize("after", ["0", "2", "3", "3:7"])
def test_a_cursor_within_the_log_is_accepted(client: TestClient[Any], after: str) -> None:
    post_transactions(client, 3)
    response = client.get(f"/v1/predictions?after={after}")
    assert response.status_code == 200, response.text
