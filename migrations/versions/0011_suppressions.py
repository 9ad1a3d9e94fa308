"""Suppressions: the log admits `suppression` and `suppression_end` events; a prediction names the suppression
that kept it from alerting.

Revision ID: 0011_suppressions
Revises: 0010_outcomes

- The log's CHECK on `event_type` admits the two new types (`fraudlog.migrations.event_types`).
- `predictions.suppressed_by`: the suppression that held back the alert this champion prediction would have
  raised (docs/outcomes.md, "Suppression"); NULL for every prediction before, which none held back.
- An index on the suppression events by card, for the scorer's look-up when a batch alerts.
"""

import sqlalchemy as sa
from alembic import op

from fraudlog.migrations.event_types import set_event_type_check

revision = "0011_suppressions"
down_revision = "0010_outcomes"
branch_labels = None
depends_on = None

_OLD = "event_type IN ('transaction', 'label', 'promotion', 'retirement', 'drift_detection', 'alert_outcome')"
_NEW = ("event_type IN ('transaction', 'label', 'promotion', 'retirement', 'drift_detection', 'alert_outcome', "
        "'suppression', 'suppression_end')")
_SUPPRESSIONS = "event_type IN ('suppression', 'suppression_end')"


def upgrade() -> None:
    set_event_type_check(_OLD, _NEW)
    op.add_column("predictions", sa.Column("suppressed_by", sa.String(36), nullable=True))
    op.create_index("ix_events_suppression_card", "events", ["card_id", "position"],
                    postgresql_where=sa.text(_SUPPRESSIONS), sqlite_where=sa.text(_SUPPRESSIONS))


def downgrade() -> None:
    op.drop_index("ix_events_suppression_card", "events")
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("suppressed_by")
    set_event_type_check(_NEW, _OLD)
