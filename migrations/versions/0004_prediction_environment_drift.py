"""Predictions record the environment drift an operator allowed.

Revision ID: 0004_environment_drift
Revises: 0003

A worker refuses to score with a version trained under other minor versions of river, numpy or scipy unless
FRAUDLOG_ALLOW_ENVIRONMENT_DRIFT is set; then each prediction it writes says which libraries differed
(`{"numpy": {"trained": "1.26.4", "here": "2.4.6"}}`). NULL for every prediction scored as trained, so
existing rows need no backfill and the column adds nothing to a normal prediction.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_environment_drift"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("predictions", sa.Column("environment_drift",
                                           sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:  # SQLite drops a column by rebuilding the table
        batch.drop_column("environment_drift")
