"""`GET /v1/models/{version}/quality`: a version's quality over time."""

from __future__ import annotations

import msgspec

from fraudlog_client.responses.statuses import ModelStatus


class QualityAsOf(msgspec.Struct, kw_only=True):
    """Where the log stood: the report is a function of the log up to here (no wall clock)."""

    position: int | None
    event_time: str | None
    labeled_at: str | None


class QualityBucket(msgspec.Struct, kw_only=True):
    """One bucket of the version's predictions and how it did on the labels that have arrived.

    `start`/`end`: the event time the bucket covers ([start, end) for time buckets; the oldest and newest event
    time of its predictions for count buckets). `labelled_share`, `newest_label_at`, `newest_label_age_seconds`
    and `event_age_seconds` say how complete its labels are; `null_because` says why a figure is null."""

    start: str | None
    end: str | None
    first_position: int | None
    last_position: int | None
    scored: int
    labelled: int
    frauds: int
    alerts: int
    labelled_share: float | None
    newest_label_at: str | None
    newest_label_age_seconds: float | None
    event_age_seconds: float | None
    roc_auc: float | None
    average_precision: float | None
    recall: float | None
    precision: float | None
    alert_rate: float | None
    target_alert_rate: float | None
    brier: float | None
    null_because: dict[str, str]


class QualityReport(msgspec.Struct, kw_only=True):
    """A version's quality over time, oldest bucket first: by event time (`bucket`) or every N predictions
    (`every`); `earlier_buckets` older buckets were left out (`limit`)."""

    version: int
    status: ModelStatus
    threshold: float
    target_alert_rate: float | None
    bucket: str | None
    every: int | None
    as_of: QualityAsOf
    earlier_buckets: int
    buckets: list[QualityBucket]
