"""Request ids on every log line of a request and in its answer; worker log lines that name their positions."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from litestar.testing import TestClient

from fraudlog.composition import worker_services
from fraudlog.config import Settings
from fraudlog.logs import JsonFormatter, RequestIdFilter, logging_config
from fraudlog.metrics.stats_cache import StatsCache
from fraudlog.store.engine import create_engine
from fraudlog.workers import tasks
from tests.support.api import api_client
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows


@contextmanager
def captured_lines() -> Iterator[list[dict[str, Any]]]:
    """JSON lines as a fraudlog process writes them (the handler `logging_config` builds, with its filter),
    available once the block ends."""
    assert logging_config(json_lines=True)["handlers"]["stderr"]["filters"] == ["request_id"]
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        lines.extend(json.loads(line) for line in buffer.getvalue().splitlines())


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient[Any]]:
    with api_client(Settings(database_url=sqlite_url, secret_key=SECRET, alert_sink="memory://")) as c:
        yield c


def failing_stats(cache: Any) -> Any:
    """Logs on the handler's worker thread, then fails: the exception handler logs on the event loop."""
    logging.getLogger("fraudlog.test").info("computing stats")
    raise RuntimeError("boom")


def test_every_log_line_of_a_request_carries_its_id_and_the_answer_echoes_it(
        client: TestClient[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(StatsCache, "read", failing_stats)
    with captured_lines() as lines:
        response = client.get("/v1/stats", headers={"X-Request-ID": "req-42.a:b"})
        client.get("/v1/stats", headers={"X-Request-ID": "req-43"})
    assert response.status_code == 500 and response.headers["x-request-id"] == "req-42.a:b"
    mine = [line for line in lines if line.get("request_id") == "req-42.a:b"]
    assert [line["message"] for line in mine] == ["computing stats", "unhandled error on GET /v1/stats"]
    served = [line for line in lines if line["logger"] != "httpx"]  # httpx: the test client's own lines
    assert {line.get("request_id") for line in served} == {"req-42.a:b", "req-43"}  # each line has its request's


def test_a_request_without_an_id_or_with_a_malformed_one_gets_a_fresh_one(client: TestClient[Any]) -> None:
    generated = {client.get("/health").headers["x-request-id"] for _ in range(2)}
    assert len(generated) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", g) for g in generated)
    for bad in ("x" * 129, "has space", "semi;colon", ""):
        echoed = client.get("/health", headers={"X-Request-ID": bad}).headers["x-request-id"]
        assert echoed != bad and re.fullmatch(r"[0-9a-f]{32}", echoed)
    problem = client.get("/v1/transactions/nope", headers={"X-Request-ID": "abc"})
    assert problem.status_code == 404 and problem.headers["x-request-id"] == "abc"
    unrouted = client.get("/no/such/route", headers={"X-Request-ID": "def"})  # no route: no middleware ran
    assert unrouted.status_code == 404 and unrouted.headers["x-request-id"] == "def"
    assert re.fullmatch(r"[0-9a-f]{32}", client.get("/no/such/route").headers["x-request-id"])


def test_no_request_id_outside_a_request(client: TestClient[Any]) -> None:
    with captured_lines() as lines:
        client.get("/health", headers={"X-Request-ID": "inside"})
        logging.getLogger("fraudlog.test").info("after the request")
    assert [line.get("request_id") for line in lines if line["message"] == "after the request"] == [None]


def test_the_worker_log_line_names_the_positions_it_scored(sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    engine = create_engine(sqlite_url)
    install_version(engine)
    positions = append_transactions(engine, synthetic_rows(5, seed=3))
    settings = Settings(database_url=sqlite_url, secret_key=SECRET, alert_sink="memory://")
    jobs = tasks.WorkerJobs(lambda: worker_services(settings))
    try:
        with caplog.at_level(logging.INFO, logger="fraudlog.worker"):
            jobs.score([positions[4], *positions[:3]])
    finally:
        jobs.close()
        engine.dispose()
    [record] = [r for r in caplog.records if r.name == "fraudlog.worker" and r.getMessage().startswith("scored")]
    first = positions[0]
    assert vars(record)["positions"] == f"{first}-{first + 2},{first + 4}"
    assert vars(record)["predictions"] == 4
