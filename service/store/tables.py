"""The schema, in SQLAlchemy Core. Migrations create it; this module is how the code names it.

`events` is the source of truth and is append-only. Every other table is a projection that
`fraudlog rebuild` can recompute from the log, except `model_versions`, whose rows are immutable
artifacts that the log's promotion events refer to. The event types are the domain's
(`fraudlog.domain.events`); the schema only checks them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from fraudlog.domain.events import (
    EVENT_ALERT_OUTCOME,
    EVENT_LABEL,
    EVENT_TRANSACTION,
    EVENT_TYPES,
    SUPPRESSION_EVENT_TYPES,
)

metadata = sa.MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both backends.

    Postgres stores TIMESTAMPTZ. SQLite has no such type: SQLAlchemy's SQLite DATETIME writes the UTC time in its
    fixed-width text format, which sorts in time order, without an offset, and the offset is put back on the way
    out. So an aware UTC time is what both backends are given.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def json_type() -> sa.types.TypeEngine[Any]:
    """JSONB on Postgres (indexable, compact), JSON text on SQLite."""
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


_json_decoder = msgspec.json.Decoder()


def json_text(column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """A JSON column read as text, to decode with `decode_json`.

    The drivers' json.loads was the largest single cost of a replay; msgspec is several times faster. Both
    parse numbers correctly rounded, so the values are the same floats.
    """
    return sa.cast(column, sa.Text)


def decode_json(text: str) -> Any:
    return _json_decoder.decode(text)


# BIGINT on Postgres; SQLite only makes INTEGER PRIMARY KEY an alias of the rowid.
BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

events = sa.Table(
    "events",
    metadata,
    sa.Column("position", BigInt, sa.Identity(always=False), primary_key=True),
    sa.Column("event_type", sa.String(16), nullable=False),
    sa.Column("transaction_id", sa.String(128)),
    sa.Column("card_id", sa.String(128)),
    sa.Column("event_time", UTCDateTime()),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    # SHA-256 of the canonical body: how a retry is told apart from a conflicting reuse of an id.
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("payload", json_type(), nullable=False),
    sa.CheckConstraint(f"event_type IN {EVENT_TYPES!r}", name="ck_events_event_type"),
)
sa.Index(
    "ux_events_transaction_id",
    events.c.transaction_id,
    unique=True,
    postgresql_where=events.c.event_type == EVENT_TRANSACTION,
    sqlite_where=events.c.event_type == EVENT_TRANSACTION,
)
sa.Index("ix_events_label_transaction", events.c.transaction_id, events.c.position,
         postgresql_where=events.c.event_type == EVENT_LABEL, sqlite_where=events.c.event_type == EVENT_LABEL)
sa.Index("ix_events_outcome_transaction", events.c.transaction_id, events.c.position,
         postgresql_where=events.c.event_type == EVENT_ALERT_OUTCOME,
         sqlite_where=events.c.event_type == EVENT_ALERT_OUTCOME)
sa.Index("ix_events_suppression_card", events.c.card_id, events.c.position,
         postgresql_where=events.c.event_type.in_(SUPPRESSION_EVENT_TYPES),
         sqlite_where=events.c.event_type.in_(SUPPRESSION_EVENT_TYPES))
_transactions_only = events.c.event_type == EVENT_TRANSACTION
sa.Index("ix_events_card_time", events.c.card_id, events.c.event_time,
         postgresql_where=_transactions_only, sqlite_where=_transactions_only)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("parent_version", sa.Integer, sa.ForeignKey("model_versions.version")),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("model_spec", json_type(), nullable=False),
    sa.Column("training_code", json_type(), nullable=False),
    sa.Column("training_data", json_type(), nullable=False),
    sa.Column("environment", json_type(), nullable=False),
    sa.Column("artifact", sa.LargeBinary, nullable=False),
    sa.Column("artifact_sha256", sa.String(64), nullable=False),
    sa.Column("artifact_hmac", sa.String(64), nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("metrics", json_type(), nullable=False),
    # The cut: the last log position of the training window. The next retrain waits for transactions past the
    # highest cut, then trains a fresh model on its own window (nothing continues from this version).
    sa.Column("watermark", BigInt, nullable=False),
    # Why it was trained: {"kind": "first" | "schedule" | "manual" | "drift", ...} (migration 0006; NULL before).
    sa.Column("trigger", json_type(), nullable=True),
)

predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("transaction_id", sa.String(128), primary_key=True),
    sa.Column("model_version", sa.Integer, primary_key=True),
    sa.Column("position", BigInt, nullable=False),
    sa.Column("champion", sa.Boolean, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("features", json_type(), nullable=False),
    sa.Column("event_time", UTCDateTime(), nullable=False),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    sa.Column("scored_at", UTCDateTime(), nullable=False),
    # Set only when an operator allowed scoring with a version trained under other library versions.
    sa.Column("environment_drift", json_type(), nullable=True),
    # An alert's reasons (`fraudlog.models.explanations`, migration 0008); NULL for every other prediction.
    sa.Column("reasons", json_type(), nullable=True),
    # The suppression that held back the alert this champion prediction would have raised (invariant 27).
    sa.Column("suppressed_by", sa.String(36), nullable=True),
)
sa.Index("ix_predictions_position", predictions.c.position)
sa.Index("ix_predictions_scored_at", predictions.c.scored_at)

labels = sa.Table(
    "labels",
    metadata,
    sa.Column("transaction_id", sa.String(128), primary_key=True),
    sa.Column("is_fraud", sa.Boolean, nullable=False),
    sa.Column("labeled_at", UTCDateTime(), nullable=False),
    sa.Column("position", BigInt, nullable=False),
    sa.Column("corrections", sa.Integer, nullable=False, server_default="0"),
    # The effective label's source (fraudlog.domain.label_sources); rows projected before sources read `api`.
    sa.Column("source", sa.String(16), nullable=False, server_default="api"),
)

# Debezium's outbox column names (id, aggregatetype, aggregateid, type, payload) so a CDC relay can
# replace the polling one; the rest is the polling relay's delivery state.
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("aggregatetype", sa.String(32), nullable=False),
    sa.Column("aggregateid", sa.String(128), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("payload", json_type(), nullable=False),
    sa.Column("transaction_id", sa.String(128), nullable=False, unique=True),
    sa.Column("card_id", sa.String(128)),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("position", BigInt, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("available_at", UTCDateTime(), nullable=False),
    sa.Column("locked_until", UTCDateTime()),
    sa.Column("sent_at", UTCDateTime()),
    sa.Column("last_error", sa.Text),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name="ck_alerts_status"),
)
sa.Index("ix_alerts_status_available", alerts.c.status, alerts.c.available_at)
sa.Index("ix_alerts_created", alerts.c.created_at, alerts.c.id)

# The transactions a coalesced alert covers (fraudlog.domain.alert_window): one row per alerting transaction,
# keyed by it, so a transaction joins one alert once (invariant 22). `message_id` is the outbox row that carries it
# to the customer: the alert itself, or an update of it; set once, when a relay first takes that message.
alert_members = sa.Table(
    "alert_members",
    metadata,
    sa.Column("transaction_id", sa.String(128), primary_key=True),
    sa.Column("alert_id", sa.String(36), nullable=False),
    sa.Column("card_id", sa.String(128)),
    sa.Column("position", BigInt, nullable=False),
    sa.Column("event_time", UTCDateTime()),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("message_id", sa.String(36)),
)
sa.Index("ix_alert_members_alert", alert_members.c.alert_id, alert_members.c.position)
sa.Index("ix_alert_members_message", alert_members.c.message_id)

# Version rows are immutable, so whether a version's artifact is usable lives beside them: one row per
# version whose artifact failed verification (service/store/refusals.py).
model_version_refusals = sa.Table(
    "model_version_refusals",
    metadata,
    sa.Column("version", sa.Integer, sa.ForeignKey("model_versions.version"), primary_key=True,
              autoincrement=False),
    sa.Column("failed_check", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("refused_at", UTCDateTime(), nullable=False),
)

# A transaction a model version could not score after bounded attempts (service/store/scoring_failures.py):
# final for the feed and the sweeper, like a prediction, until `fraudlog rescore` deletes it.
scoring_failures = sa.Table(
    "scoring_failures",
    metadata,
    sa.Column("transaction_id", sa.String(128), primary_key=True),
    sa.Column("model_version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("position", BigInt, nullable=False),
    sa.Column("champion", sa.Boolean, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("failed_at", UTCDateTime(), nullable=False),
)
sa.Index("ix_scoring_failures_position", scoring_failures.c.position)
