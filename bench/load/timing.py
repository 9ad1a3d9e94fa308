"""Timing one run and summarising repeats: medians, because a shared machine's noise is one-sided."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def median(values: list[float]) -> float | None:
    """The median, or None for no values (a scenario that did not run)."""
    return statistics.median(values) if values else None


def run_once(run: Callable[[], int]) -> tuple[float, float]:
    """(items per second, seconds) of one call of `run`, which returns how many items it processed."""
    began = time.perf_counter()
    done = run()
    seconds = time.perf_counter() - began
    return done / seconds, seconds


def summary(runs: list[tuple[float, float]]) -> dict[str, Any]:
    """Median rate and duration of `run_once` results, with every run's rate beside them."""
    return {"median_per_s": round(statistics.median(r for r, _ in runs)),
            "median_seconds": round(statistics.median(s for _, s in runs), 2),
            "runs_per_s": [round(r) for r, _ in runs]}
