"""`GET /v1/stats/series`: the dashboard's charts over a past range, from the stored rows
(`fraudlog.store.series`), so a reload or a page opened after a run draws the same curves."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy.engine import Engine

from fraudlog.store.series import SeriesPoint, activity_series

MAX_POINTS = 2_000  # a range of a day at a step of one minute is 1,440
MAX_RANGE = timedelta(days=7)
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class StatsSeries(msgspec.Struct, kw_only=True):
    range_seconds: float
    step_seconds: float
    points: list[SeriesPoint]


def parse_duration(text: str) -> timedelta:
    """`10s`, `5m`, `1h`, `2d`; ValueError otherwise."""
    match = _DURATION.match(text.strip())
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r}: expected a positive duration such as 10s, 5m, 1h or 1d")
    try:
        return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    except OverflowError as exc:
        raise ValueError(f"{text!r}: too long") from exc


def stats_series(engine: Engine, *, span: timedelta, step: timedelta, now: datetime | None = None) -> StatsSeries:
    """The last `span` up to now, in buckets of `step`; ValueError if too long or too fine."""
    if span > MAX_RANGE:
        raise ValueError(f"range: at most {MAX_RANGE.days} days")
    if span / step > MAX_POINTS:
        raise ValueError(f"range / step: at most {MAX_POINTS} points")
    until = datetime.now(UTC) if now is None else now
    points = activity_series(engine, since=until - span, until=until, step=step)
    return StatsSeries(range_seconds=span.total_seconds(), step_seconds=step.total_seconds(),
                       points=points)
