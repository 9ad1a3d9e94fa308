"""Model registry, predictions, labels and the alerts outbox.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_bigint = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("parent_version", sa.Integer, sa.ForeignKey("model_versions.version")),
        sa.Column("created_at", _ts, nullable=False),
        sa.Column("model_spec", _json, nullable=False),
        sa.Column("training_code", _json, nullable=False),
        sa.Column("training_data", _json, nullable=False),
        sa.Column("environment", _json, nullable=False),
        sa.Column("artifact", sa.LargeBinary, nullable=False),
        sa.Column("artifact_sha256", sa.String(64), nullable=False),
        sa.Column("artifact_hmac", sa.String(64), nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("metrics", _json, nullable=False),
        sa.Column("watermark", _bigint, nullable=False),
    )
    op.create_table(
        "predictions",
        sa.Column("transaction_id", sa.String(128), primary_key=True),
        sa.Column("model_version", sa.Integer, primary_key=True),
        sa.Column("position", _bigint, nullable=False),
        sa.Column("champion", sa.Boolean, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("features", _json, nullable=False),
        sa.Column("event_time", _ts, nullable=False),
        sa.Column("recorded_at", _ts, nullable=False),
        sa.Column("scored_at", _ts, nullable=False),
    )
    op.create_index("ix_predictions_position", "predictions", ["position"])
    op.create_index("ix_predictions_scored_at", "predictions", ["scored_at"])
    op.create_table(
        "labels",
        sa.Column("transaction_id", sa.String(128), primary_key=True),
        sa.Column("is_fraud", sa.Boolean, nullable=False),
        sa.Column("labeled_at", _ts, nullable=False),
        sa.Column("position", _bigint, nullable=False),
        sa.Column("corrections", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("aggregatetype", sa.String(32), nullable=False),
        sa.Column("aggregateid", sa.String(128), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("payload", _json, nullable=False),
        sa.Column("transaction_id", sa.String(128), nullable=False, unique=True),
        sa.Column("card_id", sa.String(128)),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("position", _bigint, nullable=False),
        sa.Column("created_at", _ts, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("available_at", _ts, nullable=False),
        sa.Column("locked_until", _ts),
        sa.Column("sent_at", _ts),
        sa.Column("last_error", sa.Text),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name="ck_alerts_status"),
    )
    op.create_index("ix_alerts_status_available", "alerts", ["status", "available_at"])
    op.create_index("ix_alerts_created", "alerts", ["created_at", "id"])
    # Version rows are immutable: lineage an auditor reads must be the lineage that was written.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TRIGGER model_versions_immutable BEFORE UPDATE OR DELETE ON model_versions "
                   "FOR EACH ROW EXECUTE FUNCTION fraudlog_refuse_change()")
        op.execute("CREATE TRIGGER model_versions_no_truncate BEFORE TRUNCATE ON model_versions "
                   "FOR EACH STATEMENT EXECUTE FUNCTION fraudlog_refuse_change()")
    else:
        for op_name in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER model_versions_no_{op_name.lower()} BEFORE {op_name} ON model_versions "
                       f"BEGIN SELECT RAISE(ABORT, 'fraudlog: {op_name} on model_versions is refused: "
                       "version rows are immutable'); END")


def downgrade() -> None:
    for table in ("alerts", "labels", "predictions", "model_versions"):
        op.drop_table(table)
