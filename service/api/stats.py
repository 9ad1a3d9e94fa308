"""`/v1/stats` (JSON) and `/metrics` (Prometheus text): the same figures, read from the database.

The figures are computed at most once a second per process (`fraudlog.metrics.stats_cache`);
`fraudlog.api.prometheus` renders them, with what the process observed, in the exposition format.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlalchemy.engine import Engine

from fraudlog.api.auth import ANALYST, API_KEY_SECURITY, require
from fraudlog.api.problems import AUTH_PROBLEMS, INVALID_QUERY, Problem, problem_responses
from fraudlog.api.prometheus import PROMETHEUS_TEXT, MetricsExposition
from fraudlog.domain.validation import FieldError
from fraudlog.metrics.stats_cache import StatsCache
from fraudlog.responses.stats import Stats
from fraudlog.views.series import StatsSeries, parse_duration, stats_series
from fraudlog.views.stats import stats_view


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


@get("/v1/stats/series", operation_id="getStatsSeries", tags=["operations"], guards=[require(ANALYST)],
     security=API_KEY_SECURITY, sync_to_thread=True, responses=problem_responses(*AUTH_PROBLEMS, 422),
     summary="Throughput, latency and alerts over the last `range`, one point per `step`, from the stored rows")
def stats_series_handler(
    engine: NamedDependency[Engine],
    range: Annotated[str, QueryParameter(description="e.g. 15m, 1h, 1d (at most 7d)")] = "1h",
    step: Annotated[str, QueryParameter(description="e.g. 10s, 1m")] = "10s",
) -> StatsSeries:
    try:
        span, bucket = parse_duration(range), parse_duration(step)
    except ValueError as exc:
        raise Problem(INVALID_QUERY, errors=[FieldError("range/step", str(exc))]) from exc
    try:
        return stats_series(engine, span=span, step=bucket)
    except ValueError as exc:
        raise Problem(INVALID_QUERY, errors=[FieldError("range/step", str(exc))]) from exc
