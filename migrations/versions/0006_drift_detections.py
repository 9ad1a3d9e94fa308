"""Drift detections: a new event type in the log, their projection, and each version's trigger.

Revision ID: 0006
Revises: 0005

- The log's CHECK on `event_type` admits `drift_detection`. Postgres swaps the constraint. SQLite cannot
  alter a constraint; widening a CHECK changes no stored row, which is the case the SQLite manual allows
  to edit in the schema text (https://www.sqlite.org/lang_altertable.html#otheralter, "writable_schema"):
  done so, the append-only triggers and a log of any size are left as they are.
- `drift_detections`: one row per detection, keyed by its deterministic id, so a detection is recorded once
  however many workers, schedulers or retries find it (`fraudlog.store.drift`).
- `model_versions.trigger`: why the version was trained (first, schedule, manual, drift). A new nullable
  column: the rows stay immutable, older versions read as NULL.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from fraudlog.migrations.event_types import set_event_type_check

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_bigint = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_OLD = "event_type IN ('transaction', 'label', 'promotion', 'retirement')"
_NEW = "event_type IN ('transaction', 'label', 'promotion', 'retirement', 'drift_detection')"


def upgrade() -> None:
    set_event_type_check(_OLD, _NEW)
    op.create_table(
        "drift_detections",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("position", _bigint, nullable=False, unique=True),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("signal", sa.String(16), nullable=False),
        sa.Column("detected_at", _bigint, nullable=False),
        sa.Column("payload", _json, nullable=False),
    )
    op.create_index("ix_drift_detections_version", "drift_detections", ["model_version", "detected_at"])
    op.add_column("model_versions", sa.Column("trigger", _json, nullable=True))


def downgrade() -> None:
    op.drop_column("model_versions", "trigger")
    op.drop_index("ix_drift_detections_version", "drift_detections")
    op.drop_table("drift_detections")
    set_event_type_check(_NEW, _OLD)
