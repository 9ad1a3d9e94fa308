"""`GET /v1/models/{v}/quality` and `fraudlog models quality V`: a version's quality over time.

The API and the CLI show the same `QualityReport`. The figures are `fraudlog.ml.quality`'s, computed
from rows the store reads (`fraudlog.store.quality`); this module picks the buckets, reads the rows they need
and gives the answer its typed shape. See docs/quality.md for how to read it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from fraudlog.domain.assignment import CHALLENGER
from fraudlog.domain.events import format_time
from fraudlog.ml.quality import (
    AsOf,
    BucketQuality,
    CountBuckets,
    InvalidBucketing,
    TimeBuckets,
    count_quality,
    parse_bucket,
    summarise,
    time_quality,
)
from fraudlog.models.registry import ModelRegistry
from fraudlog.responses.quality import QualityAsOf, QualityBucket, QualityReport
from fraudlog.responses.statuses import ModelStatus
from fraudlog.store.quality import labelled_scores, log_as_of, newest_labelled_scores, version_span
from fraudlog.store.snapshot import read_only_snapshot

DEFAULT_BUCKET = "1h"
DEFAULT_LIMIT = 200
MAX_LIMIT = 2_000
# The current window that `/metrics` reports per live version: the newest predictions, by count, so that it
# covers the same amount of evidence whatever the traffic.
CURRENT_WINDOW = 10_000


def quality_report(registry: ModelRegistry, version: int, *, bucket: str | None = None, every: int | None = None,
                   limit: int = DEFAULT_LIMIT) -> QualityReport:
    """The version's newest `limit` buckets (raises `UnknownVersion`, or `InvalidBucketing` for a bad width, or
    both `bucket` and `every`)."""
    if bucket is not None and every is not None:
        raise InvalidBucketing("give either bucket (a width of event time) or every (a count), not both")
    if every is not None and every < 1:
        raise InvalidBucketing(f"every must be at least 1, got {every}")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidBucketing(f"limit must be from 1 to {MAX_LIMIT}, got {limit}")
    width = parse_bucket(bucket or DEFAULT_BUCKET) if every is None else None
    record = registry.get(version)
    target = _target(record.metrics)
    with read_only_snapshot(registry.engine) as conn:  # the frontier, the span and the rows of one instant
        as_of = log_as_of(conn)
        span = version_span(conn, version)
        if width is not None:
            buckets = TimeBuckets(width)
            window = (range(0) if span.oldest is None or span.newest is None
                      else buckets.window(span.oldest, span.newest, limit))
            rows = labelled_scores(conn, version, event_time_from=buckets.start(window.start)) if window else []
            figures = time_quality(rows, buckets, window, as_of)
            earlier = window.start - buckets.index(span.oldest) if window and span.oldest is not None else 0
        else:
            counted = CountBuckets(cast(int, every))
            window = counted.window(span.predictions, limit)
            figures = count_quality(labelled_scores(conn, version, skip=counted.skipped(window)), counted, as_of)
            earlier = window.start
    return QualityReport(
        version=version, status=version_status(registry, version), threshold=record.threshold,
        target_alert_rate=target, bucket=None if width is None else (bucket or DEFAULT_BUCKET), every=every,
        as_of=quality_as_of(as_of), earlier_buckets=earlier, buckets=[quality_bucket(f, target) for f in figures])


def current_window(registry: ModelRegistry, version: int, size: int = CURRENT_WINDOW) -> QualityBucket:
    """The version's newest `size` predictions as one bucket: what `/metrics` reports for a live version."""
    with read_only_snapshot(registry.engine) as conn:
        as_of = log_as_of(conn)
        rows = newest_labelled_scores(conn, version, size)
    start = min((r.event_time for r in rows), default=None)
    end = max((r.event_time for r in rows), default=None)
    return quality_bucket(summarise(rows, as_of, start=start, end=end), _target(registry.get(version).metrics))


def live_versions(registry: ModelRegistry) -> list[int]:
    """The champion and the challengers, the champion first."""
    return list(registry.assignments().current().versions)


def quality_bucket(figures: BucketQuality, target_alert_rate: float | None) -> QualityBucket:
    return QualityBucket(
        start=_time(figures.start), end=_time(figures.end), first_position=figures.first_position,
        last_position=figures.last_position, scored=figures.scored, labelled=figures.labelled,
        frauds=figures.frauds, alerts=figures.alerts, labelled_share=figures.labelled_share,
        newest_label_at=_time(figures.newest_label_at), newest_label_age_seconds=figures.newest_label_age_seconds,
        event_age_seconds=figures.event_age_seconds, roc_auc=figures.roc_auc,
        average_precision=figures.average_precision, recall=figures.recall, precision=figures.precision,
        alert_rate=figures.alert_rate, target_alert_rate=target_alert_rate, brier=figures.brier,
        null_because=dict(figures.null_because))


def quality_as_of(as_of: AsOf) -> QualityAsOf:
    return QualityAsOf(position=as_of.position, event_time=_time(as_of.event_time), labeled_at=_time(as_of.labeled_at))


def version_status(registry: ModelRegistry, version: int) -> ModelStatus:
    # A version no promotion event has named yet is a challenger, as `GET /v1/models` says.
    return cast(ModelStatus, registry.assignments().status_of(version) or CHALLENGER)


def _target(metrics: dict[str, Any]) -> float | None:
    target = metrics.get("target_alert_rate")
    return None if target is None else float(target)


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment)
