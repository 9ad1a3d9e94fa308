"""Widening (or narrowing) the log's CHECK on `event_type`, as the migrations that add an event type do.

Postgres swaps the constraint. SQLite cannot alter a CHECK, and copying the log to a new table would rewrite
every event, so the schema text is edited in place: no stored row changes, and other connections re-read the
schema because its version is bumped.
"""

from alembic import op


def set_event_type_check(old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.drop_constraint("ck_events_event_type", "events", type_="check")
        op.create_check_constraint("ck_events_event_type", "events", new)
        return
    sql = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'").scalar_one()
    if old not in sql:
        raise RuntimeError(f"the events table's CHECK on event_type is not the one expected: {sql}")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'events'",
                         (sql.replace(old, new),))
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
