"""`GET /v1/stats`: the deployment's figures."""

from __future__ import annotations

import msgspec

from fraudlog_client.responses.models import LiveMetrics


class Backlog(msgspec.Struct, kw_only=True):
    """Transactions a champion should score and has not yet; `oldest_age_seconds` is null without any.
    `unassigned` counts the transactions recorded before the first promotion (never scored); `failed` those
    their champion could not score (recorded scoring failures, out of the backlog until `fraudlog rescore`)."""

    count: int
    oldest_age_seconds: float | None
    unassigned: int
    failed: int = 0


class Percentiles(msgspec.Struct, kw_only=True):
    """Nearest-rank percentiles over the latest champion predictions (null: none yet)."""

    p50: float | None
    p95: float | None
    p99: float | None


class Latency(msgspec.Struct, kw_only=True):
    """Seconds from the event time, and from the recording, to the champion's prediction."""

    event_to_prediction: Percentiles
    recorded_to_prediction: Percentiles


class Throughput(msgspec.Struct, kw_only=True):
    """Transactions per second over the last minute: recorded (ingest) and scored (scoring)."""

    ingest: float
    scoring: float


class AlertCounts(msgspec.Struct, kw_only=True):
    """Alerts in the outbox by delivery status."""

    pending: int
    sent: int
    failed: int


class Stats(msgspec.Struct, kw_only=True):
    """The body of `GET /v1/stats`; `models` is keyed by model version."""

    events: int
    labels: int
    scored: int
    backlog: Backlog
    latency_seconds: Latency
    throughput_per_second: Throughput
    alerts: AlertCounts
    models: dict[int, LiveMetrics]
    generated_at: str
