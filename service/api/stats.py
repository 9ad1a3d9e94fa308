"""`/v1/stats` (JSON) and `/metrics` (Prometheus text): the same figures, read from the database.

The figures are computed at most once a second per process (`cached_stats`); `service.api.prometheus`
renders them, with what the process observed, in the exposition format.
"""

from __future__ import annotations

import time
from typing import Any

from litestar import Response, get
from litestar.datastructures import State

from service.api.auth import ANALYST, API_KEY_SECURITY, require
from service.api.problems import AUTH_PROBLEMS, problem_responses
from service.api.prometheus import PROMETHEUS_TEXT, MetricsExposition
from service.config import Settings
from service.metrics.database import DatabaseFigures
from service.metrics.quality import CurrentWindows, QualityCollector
from service.store.stats import collect_stats
from service.views.models import model_descriptions
from service.views.stats import Stats, stats_view

# Dashboards poll every couple of seconds and Prometheus scrapes every API process; one computation per
# process per second bounds the database work however many of them are watching.
STATS_TTL_SECONDS = 1.0


def cached_stats(state: State) -> dict[str, Any]:
    now = time.monotonic()
    cached = getattr(state, "stats_cache", None)
    if cached is not None and now - cached[0] < STATS_TTL_SECONDS:
        return dict(cached[1])
    figures = collect_stats(state.engine)
    state.stats_cache = (now, figures)
    return dict(figures)


@get("/v1/stats", operation_id="getStats", tags=["operations"], guards=[require(ANALYST)], security=API_KEY_SECURITY,
     summary="Backlog, latency, throughput, alerts, ROC AUC per model version", sync_to_thread=True,
     responses=problem_responses(*AUTH_PROBLEMS))
def stats(state: State) -> Stats:
    return stats_view(cached_stats(state))


@get("/metrics", operation_id="getMetrics", tags=["operations"], guards=[require(ANALYST)], security=API_KEY_SECURITY,
     summary="The same figures for Prometheus", sync_to_thread=True, media_type=PROMETHEUS_TEXT,
     responses=problem_responses(*AUTH_PROBLEMS))
def metrics(state: State) -> Response[bytes]:
    return Response(state.metrics_exposition.render(), media_type=PROMETHEUS_TEXT)


def metrics_exposition(state: State, settings: Settings) -> MetricsExposition:
    """What `/metrics` renders for the app whose state this is (built once, when the app starts)."""
    return MetricsExposition(lambda: database_figures(state), settings.observability.prometheus_multiproc_dir,
                             [QualityCollector(CurrentWindows(state.registry))])


def database_figures(state: State) -> DatabaseFigures:
    """One reading for the collector: the cached figures, each version's description, the latency histograms."""
    return DatabaseFigures(cached_stats(state), model_descriptions(state.registry), state.latency_histograms.read())
