"""The append-only event log.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_bigint = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_tx = "event_type = 'transaction'"
_label = "event_type = 'label'"

_PG_GUARD = """
CREATE FUNCTION fraudlog_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'fraudlog: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'raise_exception';
END $$;
"""


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("position", _bigint, sa.Identity(always=False), primary_key=True),
        sa.Column("event_type", sa.String(16), nullable=False),
        sa.Column("transaction_id", sa.String(128)),
        sa.Column("card_id", sa.String(128)),
        sa.Column("event_time", sa.DateTime(timezone=True)),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("payload", _json, nullable=False),
        sa.CheckConstraint(
            "event_type IN ('transaction', 'label', 'promotion', 'retirement')", name="ck_events_event_type"
        ),
    )
    op.create_index("ux_events_transaction_id", "events", ["transaction_id"], unique=True,
                    postgresql_where=sa.text(_tx), sqlite_where=sa.text(_tx))
    op.create_index("ix_events_label_transaction", "events", ["transaction_id", "position"],
                    postgresql_where=sa.text(_label), sqlite_where=sa.text(_label))
    op.create_index("ix_events_card_position", "events", ["card_id", "position"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_GUARD)
        op.execute("CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
                   "FOR EACH ROW EXECUTE FUNCTION fraudlog_refuse_change()")
        op.execute("CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
                   "FOR EACH STATEMENT EXECUTE FUNCTION fraudlog_refuse_change()")
    else:
        # SQLite has no TRUNCATE: an unqualified DELETE is its truncate, and this trigger refuses it too.
        for op_name in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER events_no_{op_name.lower()} BEFORE {op_name} ON events BEGIN "
                       f"SELECT RAISE(ABORT, 'fraudlog: {op_name} on events is refused: the table is append-only'); "
                       "END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE events")
        op.execute("DROP FUNCTION fraudlog_refuse_change()")
    else:
        op.execute("DROP TABLE events")
