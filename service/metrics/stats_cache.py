"""The database's figures, read at most once a second per process, for `/v1/stats` and `/metrics`.

Dashboards poll every couple of seconds and Prometheus scrapes every API process; one computation per
process per second bounds the database work however many of them are watching.
"""

from __future__ import annotations

import time

from sqlalchemy.engine import Engine

from fraudlog.store.stats import StatsFigures, collect_stats

STATS_TTL_SECONDS = 1.0


class StatsCache:
    """`collect_stats` of one engine, kept for `ttl` seconds; each reader gets its own copy of the mapping."""

    def __init__(self, engine: Engine, ttl: float = STATS_TTL_SECONDS) -> None:
        self._engine = engine
        self._ttl = ttl
        self._cached: tuple[float, StatsFigures] | None = None

    def read(self) -> StatsFigures:
        now = time.monotonic()
        cached = self._cached
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1].copy()
        figures = collect_stats(self._engine)
        self._cached = (now, figures)
        return figures.copy()
