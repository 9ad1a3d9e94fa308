"""`GET /ready` checks what the contract says: the database, and the broker when a broker URL is configured,
naming which one is down (issue 15, item 8). Real brokers, and a real closed port for the unreachable one."""

from __future__ import annotations

import pytest

from fraudlog.api.server import free_port
from fraudlog.config import Settings
from tests.support.api import api_client
from tests.support.models import SECRET


def ready(database_url: str, broker_url: str) -> tuple[int, dict[str, str]]:
    settings = Settings(database_url=database_url, broker_url=broker_url, secret_key=SECRET, alert_sink="memory://")
    with api_client(settings) as client:  # no wiring: the API's own doorbell does not connect to the broker
        answer = client.get("/ready")
    return answer.status_code, answer.json()["checks"]


def test_ready_is_503_naming_the_broker_when_rabbitmq_is_unreachable(sqlite_url: str) -> None:
    port = free_port()  # nothing listens there
    status, checks = ready(sqlite_url, f"amqp://guest:secret-password@127.0.0.1:{port}/")
    assert status == 503
    assert checks["database"] == "ok"
    assert checks["broker"].startswith("unreachable") and f"127.0.0.1:{port}" in checks["broker"]
    assert "secret-password" not in checks["broker"]


def test_ready_is_503_naming_the_broker_when_redis_is_unreachable(sqlite_url: str) -> None:
    status, checks = ready(sqlite_url, f"redis://127.0.0.1:{free_port()}/0")
    assert (status, checks["database"]) == (503, "ok")
    assert checks["broker"].startswith("unreachable")


@pytest.mark.rabbitmq
def test_ready_is_200_with_a_reachable_rabbitmq(sqlite_url: str, rabbitmq_url: str) -> None:
    assert ready(sqlite_url, rabbitmq_url) == (200, {"database": "ok", "broker": "ok"})


@pytest.mark.redis
def test_ready_is_200_with_a_reachable_redis(sqlite_url: str, redis_url: str) -> None:
    assert ready(sqlite_url, redis_url) == (200, {"database": "ok", "broker": "ok"})


def test_the_in_process_broker_has_nothing_to_check(sqlite_url: str) -> None:
    assert ready(sqlite_url, "memory://") == (200, {"database": "ok"})
