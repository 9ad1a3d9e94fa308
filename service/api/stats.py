"""`/v1/stats` (JSON) and `/metrics` (Prometheus text): the same figures, read from the database.

The figures are computed at most once a second per process (`service.metrics.stats_cache`);
`service.api.prometheus` renders them, with what the process observed, in the exposition format.
"""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency

from service.api.auth import ANALYST, API_KEY_SECURITY, require
from service.api.problems import AUTH_PROBLEMS, problem_responses
from service.api.prometheus import PROMETHEUS_TEXT, MetricsExposition
from service.metrics.stats_cache import StatsCache
from service.views.stats import Stats, stats_view


@get("/v1/stats", operation_id="getStats", tags=["operations"], guards=[require(ANALYST)], security=API_KEY_SECURITY,
     summary="Backlog, latency, throughput, alerts, ROC AUC per model version", sync_to_thread=True,
     responses=problem_responses(*AUTH_PROBLEMS))
def stats(stats_cache: NamedDependency[StatsCache]) -> Stats:
    return stats_view(stats_cache.read())


@get("/metrics", operation_id="getMetrics", tags=["operations"], guards=[require(ANALYST)], security=API_KEY_SECURITY,
     summary="The same figures for Prometheus", sync_to_thread=True, media_type=PROMETHEUS_TEXT,
     responses=problem_responses(*AUTH_PROBLEMS))
def metrics(metrics_exposition: NamedDependency[MetricsExposition]) -> Response[bytes]:
    return Response(metrics_exposition.render(), media_type=PROMETHEUS_TEXT)
