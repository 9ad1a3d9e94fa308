"""Scoring failures: a transaction a model version could not score, recorded instead of retried for ever.

Revision ID: 0007_poison
Revises: 0006

One row per (transaction, model version) whose score raised on every bounded attempt (`fraudlog.store.
scoring_failures`). A projection like `predictions`: `fraudlog rebuild` recomputes it from the log and the
versions, and `fraudlog rescore` deletes rows before scoring their transactions again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_poison"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scoring_failures",
        sa.Column("transaction_id", sa.String(128), primary_key=True),
        sa.Column("model_version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("champion", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_scoring_failures_position", "scoring_failures", ["position"])


def downgrade() -> None:
    op.drop_index("ix_scoring_failures_position", table_name="scoring_failures")
    op.drop_table("scoring_failures")
