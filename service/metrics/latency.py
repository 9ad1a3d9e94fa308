"""The event-to-prediction and recorded-to-prediction histograms, counted by the database.

Predictions are written by worker processes on any host; the database is the one place that sees them all.
So each API process counts, in the database, the champion predictions scored since it started, a slice at a
time: every scrape adds the predictions whose `scored_at` lies between the previous slice's end and now
minus `settle` (an index range scan, so a scrape costs what arrived since the last one, not the whole
table). Counting from the process's start is what a Prometheus counter does: a restart is a reset, which
`rate()` handles, and every API process reports the same rates, whichever worker scored.

`settle` is the time a prediction may take between stamping `scored_at` and committing (plus the clock skew
between worker hosts): a slice is counted once, so a prediction that commits into an already counted slice
would be missed. Scoring transactions commit in milliseconds; the default 10 s leaves ample room, at the cost
of the histograms trailing real time by that much.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from fraudlog.store.stats import LATENCY_BUCKETS, Histogram, latency_histograms

DEFAULT_SETTLE = timedelta(seconds=10)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class LatencyHistograms:
    """Running totals of the two latency histograms for this process; `read` brings them up to date."""

    def __init__(self, engine: Engine, settle: timedelta = DEFAULT_SETTLE,
                 now: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        self._settle = settle
        self._now = now
        self._through = now() - settle
        self._totals: dict[str, Histogram] = {
            kind: {"count": 0, "sum": 0.0, "buckets": [(bound, 0) for bound in LATENCY_BUCKETS]}
            for kind in ("event_to_prediction", "recorded_to_prediction")}
        self._lock = threading.Lock()  # scrapes run on a thread pool; a slice must be added once

    def read(self) -> dict[str, Histogram]:
        with self._lock:
            cut = self._now() - self._settle
            if cut > self._through:
                for kind, slice_ in latency_histograms(self._engine, self._through, cut).items():
                    total = self._totals[kind]
                    total["count"] += slice_["count"]
                    total["sum"] += slice_["sum"]
                    total["buckets"] = [(bound, n + m) for (bound, n), (_, m)
                                        in zip(total["buckets"], slice_["buckets"], strict=True)]
                self._through = cut
            return copy.deepcopy(self._totals)
