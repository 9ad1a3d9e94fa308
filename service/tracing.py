"""Optional OpenTelemetry tracing across API -> broker -> worker (`pip install 'fraudlog[tracing]'`,
`FRAUDLOG_TRACING=on`; off by default).

fraudlog only *makes* spans, through the OpenTelemetry API: where they go is the deployment's choice, made
the standard way (run the process under `opentelemetry-instrument` with an exporter, or install a
`TracerProvider` before starting it). Without one, the API's no-op provider makes the spans free.

One trace follows a transaction: the API's `SERVER` span of the request, a `PRODUCER` span when the doorbell
sends the positions to the broker (a child of the first request it carries, linked to the others: one
message rings for several requests), and the worker's `CONSUMER` span when `score` runs (a child of the
producer, whose context travels in the Dramatiq message's options, W3C `traceparent`).

With tracing off nothing here imports OpenTelemetry, and every helper is a no-op.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from fraudlog.config import ConfigError

_enabled = False
SPAN_CONTEXT_OPTION = "trace_context"  # the Dramatiq message option that carries the W3C headers


def configure_tracing(enabled: bool) -> None:
    """Turn span making on or off for this process; refuses `on` when the extra is not installed."""
    global _enabled
    if enabled:
        try:
            import opentelemetry.trace  # noqa: F401
        except ImportError as exc:
            raise ConfigError("FRAUDLOG_TRACING=on needs OpenTelemetry: pip install 'fraudlog[tracing]'") from exc
    _enabled = enabled


def _tracer() -> Any:
    from opentelemetry import trace

    return trace.get_tracer("fraudlog")


def current_span_context() -> Any | None:
    """The span context current in this context (to link to later), or None."""
    if not _enabled:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return context if context.is_valid else None


@contextlib.contextmanager
def server_span(name: str, headers: Mapping[str, str], attributes: Mapping[str, Any]) -> Iterator[Any]:
    """The API's span for one request, continuing the client's trace when it sent `traceparent`."""
    if not _enabled:
        yield None
        return
    from opentelemetry import propagate, trace

    parent = propagate.extract(dict(headers))
    with _tracer().start_as_current_span(name, context=parent, kind=trace.SpanKind.SERVER,
                                         attributes=dict(attributes)) as span:
        yield span


@contextlib.contextmanager
def producer_span(name: str, links: Sequence[Any], attributes: Mapping[str, Any]) -> Iterator[None]:
    """A span around sending a message for the work of `links` (span contexts): a child of the first."""
    if not _enabled:
        yield
        return
    from opentelemetry import trace

    parent = trace.set_span_in_context(trace.NonRecordingSpan(links[0])) if links else None
    with _tracer().start_as_current_span(name, context=parent, kind=trace.SpanKind.PRODUCER,
                                         links=[trace.Link(link) for link in links[1:]],
                                         attributes=dict(attributes)):
        yield


def inject_current() -> dict[str, str]:
    """The current trace context as W3C headers, to carry in a message."""
    carrier: dict[str, str] = {}
    if _enabled:
        from opentelemetry import propagate

        propagate.inject(carrier)
    return carrier


def start_consumer_span(name: str, carrier: Mapping[str, str], attributes: Mapping[str, Any]) -> Any | None:
    """Start the span of processing a message and make it current; `end_consumer_span` ends it."""
    if not _enabled:
        return None
    from opentelemetry import context, propagate, trace

    span = _tracer().start_span(name, context=propagate.extract(dict(carrier)), kind=trace.SpanKind.CONSUMER,
                                attributes=dict(attributes))
    token = context.attach(trace.set_span_in_context(span))
    return span, token


def end_consumer_span(started: Any, exception: BaseException | None) -> None:
    from opentelemetry import context, trace

    span, token = started
    if exception is not None:
        span.record_exception(exception)
        span.set_status(trace.Status(trace.StatusCode.ERROR, str(exception)))
    span.end()
    context.detach(token)
