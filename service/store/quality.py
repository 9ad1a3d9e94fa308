"""The rows a version's quality over time is computed from: its predictions and their labels so far.

Read from the `predictions` and `labels` projections, which `fraudlog rebuild` derives from the log alone, and
the log's own frontier (`as_of`), so the report is a function of the log (invariant 14, docs/INVARIANTS.md).
The per-source figures read the label events themselves (every one, outranked ones too) beside the predictions.
The same statements on both backends; the figures are computed in Python (`fraudlog.ml.quality`),
where they are exact and identical whichever database answered.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fraudlog.domain.events import EVENT_TRANSACTION, LABEL_EVENT_TYPES, parse_time
from fraudlog.domain.label_sources import source_of
from fraudlog.ml.quality import AsOf, LabelledScore
from fraudlog.ml.source_quality import ScoredLabel
from fraudlog.store.tables import events, labels, predictions

_with_labels = predictions.outerjoin(labels, labels.c.transaction_id == predictions.c.transaction_id)
_row_columns = (predictions.c.position, predictions.c.event_time, predictions.c.score, predictions.c.threshold,
                labels.c.is_fraud, labels.c.labeled_at)


class VersionSpan(NamedTuple):
    """How many predictions a version has, and the event times of its oldest and newest."""

    predictions: int
    oldest: datetime | None
    newest: datetime | None


def version_span(conn: Connection, version: int) -> VersionSpan:
    count, oldest, newest = conn.execute(
        sa.select(sa.func.count(), sa.func.min(predictions.c.event_time), sa.func.max(predictions.c.event_time))
        .where(predictions.c.model_version == version)).one()
    return VersionSpan(int(count), _utc(oldest), _utc(newest))


def labelled_scores(conn: Connection, version: int, *, event_time_from: datetime | None = None, skip: int = 0,
                    ) -> list[LabelledScore]:
    """The version's predictions in log order, with their labels so far: from `event_time_from` on (event
    time buckets), or after the first `skip` of them (count buckets)."""
    stmt = (sa.select(*_row_columns).select_from(_with_labels).where(predictions.c.model_version == version)
            .order_by(predictions.c.position))
    if event_time_from is not None:
        stmt = stmt.where(predictions.c.event_time >= event_time_from)
    if skip:
        stmt = stmt.offset(skip)
    return [_row(*row) for row in conn.execute(stmt).all()]


def newest_labelled_scores(conn: Connection, version: int, limit: int) -> list[LabelledScore]:
    """The version's newest `limit` predictions with their labels so far, in log order: the current window."""
    stmt = (sa.select(*_row_columns).select_from(_with_labels).where(predictions.c.model_version == version)
            .order_by(predictions.c.position.desc()).limit(limit))
    return [_row(*row) for row in reversed(conn.execute(stmt).all())]


def scored_label_events(conn: Connection, version: int | None) -> list[ScoredLabel]:
    """Every label event (labels and alert outcomes, outranked ones too) on a transaction the version scored,
    with the version's score, in log order; `version` None: the champions' predictions (what customers got)."""
    scored = predictions.c.champion if version is None else predictions.c.model_version == version
    stmt = (sa.select(events.c.transaction_id, events.c.position, events.c.payload, predictions.c.event_time,
                      predictions.c.score, predictions.c.threshold)
            .select_from(events.join(predictions, predictions.c.transaction_id == events.c.transaction_id))
            .where(events.c.event_type.in_(LABEL_EVENT_TYPES), scored).order_by(events.c.position))
    return [ScoredLabel(tx, int(position), source_of(payload.get("source")), bool(payload["is_fraud"]),
                        parse_time(payload["labeled_at"]), event_time, float(score), float(threshold))
            for tx, position, payload, event_time, score, threshold in conn.execute(stmt)]


def log_as_of(conn: Connection) -> AsOf:
    """The log's last position, its newest transaction's event time and its newest label's time."""
    position = conn.execute(sa.select(sa.func.max(events.c.position))).scalar()
    event_time = conn.execute(sa.select(sa.func.max(events.c.event_time)).where(
        events.c.event_type == EVENT_TRANSACTION)).scalar()
    labeled_at = conn.execute(sa.select(sa.func.max(labels.c.labeled_at))).scalar()
    return AsOf(None if position is None else int(position), _utc(event_time), _utc(labeled_at))


def _row(position: int, event_time: datetime, score: float, threshold: float, is_fraud: bool | None,
         labeled_at: datetime | None) -> LabelledScore:
    return LabelledScore(int(position), event_time, float(score), float(threshold),
                         None if is_fraud is None else bool(is_fraud), labeled_at)


def _utc(moment: datetime | None) -> datetime | None:
    # Aggregates skip the column type's conversion: SQLite's MAX() answers the stored naive text.
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
