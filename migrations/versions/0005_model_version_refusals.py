"""Record model versions whose artifact failed verification, so every process stops retrying them.

Revision ID: 0005
Revises: 0004_environment_drift

Version rows are immutable, so a version's health cannot be a column of its row. A refusal is kept in its own
table, one row per version: the worker that first fails to verify the artifact writes it; readiness and the
sweeper read it; a process that does verify the artifact (a worker started with the right key after one
with the wrong key) removes it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004_environment_drift"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_version_refusals",
        sa.Column("version", sa.Integer, sa.ForeignKey("model_versions.version"), primary_key=True,
                  autoincrement=False),
        sa.Column("failed_check", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("refused_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("model_version_refusals")
