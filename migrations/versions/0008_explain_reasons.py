"""Predictions store the reasons of the alerts they raised.

Revision ID: 0008_explain_reasons
Revises: 0007_poison

`predictions.reasons`: the explanation of a champion prediction at or above its threshold (an alert), as
`fraudlog.models.explanations` computes it from the stored features and the frozen version: method, units,
base value and the top reasons. NULL for every other prediction, and for every prediction written before
this revision, so existing rows need no backfill; replay recomputes and compares it like the score.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008_explain_reasons"
down_revision = "0007_poison"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("predictions", sa.Column("reasons", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                                           nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:  # SQLite drops a column by rebuilding the table
        batch.drop_column("reasons")
