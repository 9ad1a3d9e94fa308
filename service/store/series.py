"""The dashboard's history: throughput, latency and alerts over a past range, bucketed, from the stored rows.

The charts held only what a browser tab had seen, so a reload or a page opened after a run showed flat lines.
These figures come from the projections (predictions' three times, the log's recording times, the alerts'
creation), so every API process and every reload answers alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.domain.events import EVENT_TRANSACTION
from fraudlog.store.errors import driver_errors
from fraudlog.store.outbox import EVENT_TYPE
from fraudlog.store.stats import percentiles
from fraudlog.store.tables import UTCDateTime, alerts, events, predictions

_since = sa.bindparam("since", type_=UTCDateTime())
_scored = (sa.select(predictions.c.scored_at, predictions.c.event_time, predictions.c.recorded_at)
           .where(predictions.c.champion, predictions.c.scored_at >= _since))
_recorded = (sa.select(events.c.recorded_at)
             .where(events.c.event_type == EVENT_TRANSACTION, events.c.recorded_at >= _since))
_alerted = sa.select(alerts.c.created_at).where(alerts.c.type == EVENT_TYPE, alerts.c.created_at >= _since)
_alerts_before = sa.select(sa.func.count()).select_from(alerts).where(alerts.c.type == EVENT_TYPE,
                                                                      alerts.c.created_at < _since)


class SeriesPoint(msgspec.Struct, kw_only=True):
    """One bucket, stamped with its end (Unix seconds): rates per second, latency seconds (null: no prediction
    in the bucket), alerts made up to its end."""

    t: float
    ingested_per_second: float
    scored_per_second: float
    event_to_prediction_p50: float | None
    event_to_prediction_p99: float | None
    recorded_to_prediction_p50: float | None
    recorded_to_prediction_p99: float | None
    alerts: int


def activity_series(engine: Engine, *, since: datetime, until: datetime, step: timedelta) -> list[SeriesPoint]:
    """One point per `step` in [since, until): transactions recorded and scored per second, the champion's
    latency percentiles (event and recording to prediction) of the predictions made in it, and the alerts made
    so far (cumulative). A bucket with no prediction has null latencies."""
    buckets = max(1, int((until - since) / step))
    ingested, scored = [0] * buckets, [0] * buckets
    event_latency: list[list[float]] = [[] for _ in range(buckets)]
    platform_latency: list[list[float]] = [[] for _ in range(buckets)]
    alerts_made = [0] * buckets

    def bucket(moment: datetime) -> int | None:
        index = int((moment - since) / step)
        return index if 0 <= index < buckets else None

    with driver_errors(), engine.connect() as conn:
        for (recorded_at,) in conn.execute(_recorded, {"since": since}):
            if (i := bucket(recorded_at)) is not None:
                ingested[i] += 1
        for scored_at, event_time, recorded_at in conn.execute(_scored, {"since": since}):
            if (i := bucket(scored_at)) is not None:
                scored[i] += 1
                event_latency[i].append((scored_at - event_time).total_seconds())
                platform_latency[i].append((scored_at - recorded_at).total_seconds())
        for (created_at,) in conn.execute(_alerted, {"since": since}):
            if (i := bucket(created_at)) is not None:
                alerts_made[i] += 1
        total = int(conn.execute(_alerts_before, {"since": since}).scalar_one())
    seconds = step.total_seconds()
    points: list[SeriesPoint] = []
    for i in range(buckets):
        total += alerts_made[i]
        event, platform = percentiles(event_latency[i], (50, 99)), percentiles(platform_latency[i], (50, 99))
        points.append(SeriesPoint(
            t=(since + (i + 1) * step).timestamp(), ingested_per_second=ingested[i] / seconds,
            scored_per_second=scored[i] / seconds, event_to_prediction_p50=event["p50"],
            event_to_prediction_p99=event["p99"], recorded_to_prediction_p50=platform["p50"],
            recorded_to_prediction_p99=platform["p99"], alerts=total))
    return points
