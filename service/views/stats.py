"""`GET /v1/stats` as a typed body: the figures `fraudlog.store.stats.collect_stats` reads.

The store hands the figures back as a plain mapping (the collector in `fraudlog.metrics.database` walks
it); `stats_view` gives it the declared shape, which is what OpenAPI documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from fraudlog.responses.stats import Stats


def stats_view(figures: Mapping[str, Any]) -> Stats:
    return msgspec.convert(figures, Stats)
