"""A worker process's Dramatiq middleware: listed explicitly, with Prometheus' exporter on loopback."""

from __future__ import annotations

import os
from pathlib import Path

import dramatiq
import httpx
import pytest
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit
from prometheus_client.parser import text_string_to_metric_families

from fraudlog.api.server import free_port
from fraudlog.config import ObservabilitySettings, Settings
from fraudlog.workers.middleware import WorkerMetricsExporter, sending_process_middleware, worker_process_middleware
from fraudlog.workers.tasks import StructuredLogging
from fraudlog.workers.tracing import TracingMiddleware
from tests.support.processes import wait_until, worker


def test_the_middleware_of_each_process_kind_is_listed_explicitly() -> None:
    logging_middleware = StructuredLogging()
    stack = [type(m) for m in worker_process_middleware(Settings(), logging_middleware)]
    dramatiq_stack = [AgeLimit, TimeLimit, ShutdownNotifications, Callbacks, Pipelines, Retries]
    assert stack == [WorkerMetricsExporter, *dramatiq_stack, StructuredLogging]
    assert [type(m) for m in sending_process_middleware()] == dramatiq_stack
    assert dramatiq_stack == list(dramatiq.middleware.default_middleware)  # a Dramatiq upgrade that changes it shows
    assert TracingMiddleware in [type(m) for m in sending_process_middleware(tracing=True)]
    off = Settings(observability=ObservabilitySettings(worker_metrics_port=0))
    assert WorkerMetricsExporter not in [type(m) for m in worker_process_middleware(off, logging_middleware)]


def listening_addresses(port: int) -> set[str]:
    """The local addresses a TCP socket LISTENs on at `port` (IPv4, from /proc/net/tcp)."""
    addresses = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            addresses.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return addresses


@pytest.mark.postgres
@pytest.mark.rabbitmq
@pytest.mark.slow
def test_a_worker_process_exports_dramatiq_metrics_on_loopback_only(pg_url: str, rabbitmq_url: str) -> None:
    port = free_port()
    maintenance = f"{os.environ['FRAUDLOG_QUEUE_PREFIX']}.maintenance"

    def swept() -> bool:  # the start-up sweep, processed and counted
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        except httpx.HTTPError:
            return False
        return any(sample.labels.get("queue_name") == maintenance and sample.labels.get("actor_name") == "sweep"
                   and sample.value >= 1
                   for family in text_string_to_metric_families(text) if family.name == "dramatiq_messages"
                   for sample in family.samples)

    with worker(pg_url, rabbitmq_url, FRAUDLOG_WORKER_METRICS_PORT=str(port)):
        wait_until(swept, timeout=90, message="dramatiq_messages_total for the start-up sweep")
        assert listening_addresses(port) == {"127.0.0.1"}
