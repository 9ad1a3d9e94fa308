"""The Dramatiq middleware of each kind of process, listed explicitly rather than left to Dramatiq's defaults.

Worker processes (`dramatiq fraudlog.workers.actors`, `fraudlog worker`) run Dramatiq's own stack (age and time
limits, shutdown notifications, callbacks, pipelines, retries), fraudlog's logging, and Dramatiq's
Prometheus middleware, whose exporter (messages processed, failed, retried, in progress, durations, per
actor) listens on FRAUDLOG_WORKER_METRICS_HOST:FRAUDLOG_WORKER_METRICS_PORT, 127.0.0.1:9191 by default;
port 0 turns it off. Processes that only send (the API, the scheduler, the embedded mode) leave the
exporter out: it would switch prometheus_client to multiprocess mode in a process that exports its own
metrics.

Dramatiq's exporter reads `dramatiq_prom_host` / `dramatiq_prom_port` at import, in a process the Dramatiq
CLI forks before it imports `fraudlog.workers.actors`, and binds every interface by default. So fraudlog names its
own fork function, which binds what `fraudlog.config` says, and serves what Dramatiq's middleware records.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import dramatiq
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit
from dramatiq.middleware.prometheus import DB_PATH, Prometheus

from fraudlog.config import ObservabilitySettings, Settings
from fraudlog.workers.tracing import TracingMiddleware

log = logging.getLogger("fraudlog.worker.metrics")


def dramatiq_defaults() -> list[dramatiq.Middleware]:
    """Dramatiq's default stack, in its order: what every broker of ours starts from."""
    return [AgeLimit(), TimeLimit(), ShutdownNotifications(), Callbacks(), Pipelines(), Retries()]


def sending_process_middleware(tracing: bool = False) -> list[dramatiq.Middleware]:
    """The API, the scheduler and the embedded workers: Dramatiq's stack (and tracing), no exporter."""
    return [*dramatiq_defaults(), *([TracingMiddleware()] if tracing else [])]


def worker_process_middleware(settings: Settings, logging_middleware: dramatiq.Middleware,
                              ) -> list[dramatiq.Middleware]:
    """A worker process: the exporter first (so it times everything the others do), Dramatiq's stack, logging,
    and tracing when it is on."""
    observability = settings.observability
    exporter: list[dramatiq.Middleware] = [WorkerMetricsExporter()] if observability.worker_metrics_port else []
    tracing: list[dramatiq.Middleware] = [TracingMiddleware()] if observability.tracing else []
    return [*exporter, *dramatiq_defaults(), logging_middleware, *tracing]


class WorkerMetricsExporter(Prometheus):
    """Dramatiq's Prometheus middleware, with its exporter bound where the settings say."""

    @property
    def forks(self) -> list[Callable[[], int]]:
        return [serve_worker_metrics]


class WrittenFilesCollector:
    """prometheus_client's multiprocess collector over the value files that hold data.

    A process killed between creating its file and sizing it leaves an empty file in the directory every worker
    on the host shares, and prometheus_client's own collector then fails every scrape, for good (a CI run saw
    491 failed scrapes in 90 s). An empty file holds no value, so leaving it out loses nothing."""

    def __init__(self, path: str) -> None:
        self.path = path

    def collect(self) -> Any:
        from prometheus_client.multiprocess import MultiProcessCollector

        return MultiProcessCollector.merge(_written_files(self.path), accumulate=True)


def _written_files(path: str) -> list[str]:
    written = []
    for name in glob.glob(os.path.join(path, "*.db")):
        with contextlib.suppress(OSError):  # removed meanwhile: a worker that started wiped the directory
            if os.path.getsize(name) >= _HEADER_BYTES:
                written.append(name)
    return written


_HEADER_BYTES = 8  # a value file starts with its used length (4 bytes) and padding


class _MetricsHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        # Imported here, never at module level: prometheus_client picks its value store when first imported,
        # and a worker process must import it only after Dramatiq's middleware set PROMETHEUS_MULTIPROC_DIR.
        from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest

        registry = CollectorRegistry()
        registry.register(WrittenFilesCollector(DB_PATH))
        body = generate_latest(registry)
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_PLAIN_0_0_4)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # a scrape every few seconds is not news
        log.debug(format, *args)


def serve_worker_metrics() -> int:
    """The fork Dramatiq's CLI runs beside the workers: serve their metrics until stopped."""
    settings = ObservabilitySettings.from_env()
    address = (settings.worker_metrics_host, settings.worker_metrics_port)
    try:
        server = HTTPServer(address, _MetricsHandler)
    except OSError as exc:  # another worker on this host has the port: its exporter reads the same files
        log.warning("worker metrics exporter not started on %s:%d: %s", *address, exc)
        return 0
    log.info("worker metrics on http://%s:%d/metrics", *address)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
