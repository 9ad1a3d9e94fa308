"""Label sources, alert outcomes: a new event type in the log and the labels projection's source.

Revision ID: 0010_outcomes
Revises: 0009_coalesce

- The log's CHECK on `event_type` admits `alert_outcome` (a customer's or an analyst's answer to an alert,
  docs/outcomes.md), widened as 0006 widened it: Postgres swaps the constraint, SQLite edits the schema text
  (no stored row changes).
- `labels.source`: the effective label's source. Rows projected before sources existed were all bare
  `api` labels, so the server default `api` is their true source; `fraudlog rebuild` recomputes it anyway.
- A partial index on the outcomes' transaction ids, the twin of the labels' one, for the label lookups.
"""

import sqlalchemy as sa
from alembic import op

from fraudlog.migrations.event_types import set_event_type_check

revision = "0010_outcomes"
down_revision = "0009_coalesce"
branch_labels = None
depends_on = None

_OLD = "event_type IN ('transaction', 'label', 'promotion', 'retirement', 'drift_detection')"
_NEW = "event_type IN ('transaction', 'label', 'promotion', 'retirement', 'drift_detection', 'alert_outcome')"
_OUTCOMES = "event_type = 'alert_outcome'"


def upgrade() -> None:
    set_event_type_check(_OLD, _NEW)
    op.add_column("labels", sa.Column("source", sa.String(16), nullable=False, server_default="api"))
    op.create_index("ix_events_outcome_transaction", "events", ["transaction_id", "position"],
                    postgresql_where=sa.text(_OUTCOMES), sqlite_where=sa.text(_OUTCOMES))


def downgrade() -> None:
    op.drop_index("ix_events_outcome_transaction", "events")
    with op.batch_alter_table("labels") as batch:
        batch.drop_column("source")
    set_event_type_check(_NEW, _OLD)
