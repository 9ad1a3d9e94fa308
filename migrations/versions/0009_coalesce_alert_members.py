"""Coalesced alerts: the transactions each alert covers.

Revision ID: 0009_coalesce
Revises: 0008_explain_reasons

- `alert_members`: one row per transaction over the threshold, keyed by the transaction, naming the alert
  (one per card per window of event time, `fraudlog.domain.alert_window`) it joined and the outbox message that
  carries it to the customer (the alert, or an update of it). Alerts made before this revision have no
  members and are delivered as they were.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_coalesce"
down_revision = "0008_explain_reasons"
branch_labels = None
depends_on = None

_bigint = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alert_members",
        sa.Column("transaction_id", sa.String(128), primary_key=True),
        sa.Column("alert_id", sa.String(36), nullable=False),
        sa.Column("card_id", sa.String(128)),
        sa.Column("position", _bigint, nullable=False),
        sa.Column("event_time", _ts),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("created_at", _ts, nullable=False),
        sa.Column("message_id", sa.String(36)),
    )
    op.create_index("ix_alert_members_alert", "alert_members", ["alert_id", "position"])
    op.create_index("ix_alert_members_message", "alert_members", ["message_id"])


def downgrade() -> None:
    op.drop_table("alert_members")
