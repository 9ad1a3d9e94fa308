"""OpenTelemetry tracing (optional, off by default): one trace from the API's request through the broker to
the worker's `score`, recorded with the SDK's in-memory exporter."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from fraudlog.config import ObservabilitySettings, Settings
from fraudlog.store.engine import create_engine
from fraudlog.tracing import configure_tracing
from tests.support.api import api_client
from tests.support.models import SECRET, install_version, synthetic_rows

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{CLIENT_TRACE}-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    """The process's tracer provider (OpenTelemetry allows one per process), exporting to memory."""
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(provider)
    assert trace.get_tracer_provider() is provider, "another tracer provider was installed first"
    return memory


@pytest.fixture
def champion_url(sqlite_url: str) -> Iterator[str]:
    engine = create_engine(sqlite_url)
    install_version(engine)
    engine.dispose()
    yield sqlite_url
    configure_tracing(False)


def settings_for(url: str, tracing: bool) -> Settings:
    return Settings(database_url=url, secret_key=SECRET, alert_sink="memory://",
                    observability=ObservabilitySettings(tracing=tracing))


def post_and_wait_until_scored(client: Any, body: dict[str, Any], headers: dict[str, str]) -> None:
    assert client.post("/v1/transactions", json=body, headers=headers).status_code == 202
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if client.get(f"/v1/transactions/{body['transaction_id']}").json()["predictions"]:
            return
        time.sleep(0.05)
    raise AssertionError("the transaction was not scored")


def _traced_process_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    requests = spans_named(exporter, "POST /v1/transactions")
    traces = {span.context.trace_id for span in requests}
    return [span for span in spans_named(exporter, "score process") if span.context.trace_id in traces]


def spans_named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


def test_one_trace_runs_from_the_request_through_the_broker_to_the_worker(
        exporter: InMemorySpanExporter, champion_url: str) -> None:
    exporter.clear()
    [(body, _)] = synthetic_rows(1, seed=5)
    with api_client(settings_for(champion_url, tracing=True), background=True) as client:
        post_and_wait_until_scored(client, body, {"traceparent": TRACEPARENT, "X-Request-ID": "traced-1"})
        # The message this request sent, not any: a sweep of the embedded schedule may score it first, in
        # a trace of its own, and the traced message's span ends after that.
        deadline = time.monotonic() + 30
        while not _traced_process_spans(exporter) and time.monotonic() < deadline:
            time.sleep(0.05)
    [request] = spans_named(exporter, "POST /v1/transactions")
    [sent] = [s for s in spans_named(exporter, "score send") if s.context.trace_id == request.context.trace_id]
    [scored] = [s for s in spans_named(exporter, "score process") if s.context.trace_id == request.context.trace_id]
    assert format(request.context.trace_id, "032x") == CLIENT_TRACE  # the client's trace continues
    assert request.kind == trace.SpanKind.SERVER and request.attributes is not None
    assert request.attributes["fraudlog.request_id"] == "traced-1"
    assert request.attributes["http.response.status_code"] == 202
    assert sent.kind == trace.SpanKind.PRODUCER and sent.parent is not None
    assert sent.parent.span_id == request.context.span_id
    assert scored.kind == trace.SpanKind.CONSUMER and scored.parent is not None
    assert scored.parent.span_id == sent.context.span_id
    assert scored.status.is_ok


def test_tracing_is_off_by_default(exporter: InMemorySpanExporter, champion_url: str) -> None:
    assert Settings().observability.tracing is False
    assert Settings.from_env({}).observability.tracing is False
    exporter.clear()
    [(body, _)] = synthetic_rows(1, seed=6)
    with api_client(settings_for(champion_url, tracing=False), background=True) as client:
        post_and_wait_until_scored(client, body, {"traceparent": TRACEPARENT})
    assert exporter.get_finished_spans() == ()
