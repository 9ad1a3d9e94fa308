"""`/metrics`: the Prometheus text exposition, written by `prometheus_client`.

Three sources, one answer:
- the database's figures (`fraudlog.metrics.database.DatabaseCollector`), in a registry of this app's own,
  so that two apps in one process (tests) never collide;
- what this process observed (the HTTP request histogram) and its process metrics (CPU, memory, file
  descriptors), from prometheus_client's default registry, where other modules register theirs too (the
  prediction feed's `fraudlog_stream_consumers`);
- with `PROMETHEUS_MULTIPROC_DIR` set (several API processes behind one port), the observations of every
  process, summed by prometheus_client's multiprocess collector, instead of this process's alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from fraudlog.metrics.database import DatabaseCollector, DatabaseFigures
from fraudlog.metrics.multiprocess import forget_dead_processes

# Litestar appends `; charset=utf-8` to every text/* media type it is given, so the parameter is left out
# here: sent twice, Prometheus 2 warns on each scrape and Prometheus 3 refuses it (issue 27 #5).
PROMETHEUS_TEXT = CONTENT_TYPE_PLAIN_0_0_4.removesuffix("; charset=utf-8")

# The 0.0.4 text format has no place for a counter's creation time: prometheus_client would add a
# `<name>_created` gauge beside every counter and histogram, doubling the series for nothing.
disable_created_metrics()


class MetricsExposition:
    """Renders `/metrics` for one app."""

    def __init__(self, read_figures: Callable[[], DatabaseFigures], multiprocess_dir: str | None = None,
                 database_collectors: Sequence[Collector] = ()) -> None:
        # auto_describe off: registering must not query the database.
        self._database = CollectorRegistry(auto_describe=False)
        for collector in (DatabaseCollector(read_figures), *database_collectors):
            self._database.register(collector)
        self._observed: CollectorRegistry = REGISTRY
        self._multiprocess_dir = multiprocess_dir
        if multiprocess_dir:
            self._observed = CollectorRegistry(auto_describe=False)
            MultiProcessCollector(self._observed, path=multiprocess_dir)

    def render(self) -> bytes:
        """The exposition text: families of both registries, whose names never overlap."""
        if self._multiprocess_dir:
            forget_dead_processes(self._multiprocess_dir)
        return generate_latest(self._observed) + generate_latest(self._database)
