"""Odd requests answered precisely (issue 27 #5, #10, #11): exact media types, out-of-range times and
cursors beyond the log refused as problems, never a 500 or a silent 200. On SQLite and on Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from service.config import Settings
from tests.support.api import api_client

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
