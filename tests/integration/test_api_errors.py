"""Bodies the API must refuse clearly, and early answers that must reach the client: 415 for a body not
declared JSON, a UTF-8 byte order mark accepted, deep nesting refused as the client's error (never a 500),
403 naming the roles that may act, and a 413 that a client still sending its body receives intact."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from fraudlog.api.server import free_port
from fraudlog.config import ApiKey, Settings
from fraudlog.domain.validation import TOO_DEEP
from fraudlog.store.engine import create_engine
from fraudlog.store.event_log import EventLog
from tests.support.api import api_client
from tests.support.data import transaction_body
from tests.support.processes import REPO, kill, log_file, service_env, wait_until

PROBLEM = "application/problem+json"
TX = json.dumps(transaction_body(1)).encode()
BODY_ENDPOINTS = ["/v1/transactions", "/v1/labels", "/v1/predict"]


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient[Any]]:
    with api_client(Settings(database_url=sqlite_url, secret_key=b"k")) as client:
        yield client


def stored(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        return EventLog(engine).count()
    finally:
        engine.dispose()


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"]
    return body


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/jsonx"])
def test_a_body_not_declared_json_answers_415(client: TestClient[Any], sqlite_url: str, path: str,
                                              content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = client.post(path, content=TX, headers=headers)
    body = problem(response, 415)
    assert "application/json" in body["detail"]
    assert stored(sqlite_url) == 0


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON", "application/merge-patch+json"])
def test_json_media_types_with_parameters_are_accepted(client: TestClient[Any], content_type: str) -> None:
    response = client.post("/v1/transactions", content=TX, headers={"content-type": content_type})
    assert response.status_code in (200, 202), response.text


def test_a_body_starting_with_a_utf8_byte_order_mark_is_accepted_and_stored_without_it(
        client: TestClient[Any], sqlite_url: str) -> None:
    response = client.post("/v1/transactions", content=b"\xef\xbb\xbf" + TX,
                           headers={"content-type": "application/json"})
    assert response.status_code == 202, response.text
    again = client.post("/v1/transactions", content=TX, headers={"content-type": "application/json"})
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert stored(sqlite_url) == 1


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
@pytest.mark.parametrize("nested", [b"[" * 3000, b"[" * 3000 + b"]" * 3000, b'{"a":' * 3000,
                                    b'{"transaction": ' * 2000])
def test_deep_nesting_is_the_clients_error_not_a_500(client: TestClient[Any], sqlite_url: str, path: str,
                                                      nested: bytes) -> None:
    response = client.post(path, content=nested, headers={"content-type": "application/json"})
    body = problem(response, 422)
    assert body["errors"] == [{"pointer": "", "detail": TOO_DEEP}]
    assert stored(sqlite_url) == 0


@pytest.mark.parametrize(("role", "method", "path", "needs"), [
    ("ingest", "POST", "/v1/models/1/promote", "'admin'"),
    ("analyst", "POST", "/v1/models/1/promote", "'admin'"),
    ("ingest", "POST", "/v1/models/1/retire", "'admin'"),
    ("ingest", "GET", "/v1/models", "'analyst' or 'admin'"),
    ("ingest", "GET", "/v1/models/1", "'analyst' or 'admin'"),
    ("analyst", "POST", "/v1/transactions", "'ingest' or 'admin'"),
])
def test_403_names_the_roles_that_may_do_it(sqlite_url: str, role: str, method: str, path: str,
                                            needs: str) -> None:
    settings = Settings(database_url=sqlite_url, secret_key=b"k", api_keys=(ApiKey("someone", role, "the-key"),))
    with api_client(settings) as client:
        response = client.request(method, path, headers={"authorization": "Bearer the-key"}, json={})
    body = problem(response, 403)
    assert body["detail"] == f"key 'someone' has role {role!r}; this needs {needs}"


@pytest.fixture
def api_process(tmp_path: Path) -> Iterator[str]:
    """`fraudlog serve` (uvicorn) in its own process, on embedded SQLite, auth off."""
    port = free_port()
    env = service_env(f"sqlite:///{tmp_path / 'fraudlog.db'}", "memory://", FRAUDLOG_API_KEYS="")
    proc = subprocess.Popen([sys.executable, "-m", "fraudlog.cli", "serve", "--port", str(port)], cwd=REPO, env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=log_file("api"))
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, "the API process exited"
        try:
            return httpx.get(f"{base}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(ready, timeout=60, message="the API process to answer /health")
        yield base
    finally:
        kill(proc)


def test_a_client_that_sends_a_whole_oversized_body_before_reading_receives_the_413(api_process: str) -> None:
    # urllib writes the whole body with `Connection: close` before it reads anything: if the server answers
    # and closes with the body unread, the kernel resets the connection and the client never sees the 413.
    oversized = b"[" + b" " * (10 * 1024 * 1024 + 512 * 1024) + b"]"
    request = urllib.request.Request(f"{api_process}/v1/transactions", data=oversized, method="POST",
                                     headers={"Content-Type": "application/json", "Connection": "close"})
    for _ in range(3):  # a reset is a race with the client's writes: give it more than one chance to show
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=60)
        assert answer.value.code == 413
        assert answer.value.headers["content-type"].startswith(PROBLEM)
        assert json.loads(answer.value.read())["status"] == 413
