"""The API's request duration histogram, observed where each request is answered.

A process-local `prometheus_client` histogram in the default registry, labelled by method, route template
(`/v1/transactions/{transaction_id}`, never the raw path: one series per route, not per id) and status code.
With several API processes behind one port (`fraudlog serve --workers N`) set `PROMETHEUS_MULTIPROC_DIR`, and
`/metrics` sums every process's observations (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import time
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Histogram

# Seconds. Ingest answers in milliseconds; a large batch or a slow database takes seconds.
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_DURATION = Histogram(
    "fraudlog_http_request_duration_seconds",
    "Seconds from receiving an HTTP request to sending the start of its response, by route template.",
    ["method", "route", "status_code"],
    buckets=REQUEST_BUCKETS,
)


def request_duration_middleware(app: ASGIApp) -> ASGIApp:
    """Litestar middleware (it runs after routing, so the route template is known)."""

    async def timed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()

        async def observe_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                _observe(scope, int(message["status"]), time.perf_counter() - started)
            await send(message)

        await app(scope, receive, observe_send)

    return timed


def _observe(scope: Scope, status: int, seconds: float) -> None:
    route: Any = scope.get("path_template") or "unmatched"
    REQUEST_DURATION.labels(scope.get("method", ""), str(route), str(status)).observe(seconds)
