"""The database itself refuses to change or remove the log (invariant 1, docs/INVARIANTS.md), on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.store.event_log import EventLog
from tests.support.data import transaction_event

STATEMENTS = {
    "update": "UPDATE events SET payload = payload WHERE position = 1",
    "delete": "DELETE FROM events WHERE position = 1",
    "truncate": "TRUNCATE events",
}


@pytest.mark.parametrize("operation", sorted(STATEMENTS))
def test_log_refuses_update_delete_and_truncate(engine: Engine, operation: str) -> None:
    EventLog(engine).append_transactions([[transaction_event(1)]], datetime.now(UTC))
    statement = STATEMENTS[operation]
    if engine.dialect.name == "sqlite" and operation == "truncate":
        statement = "DELETE FROM events"  # SQLite's truncate is an unqualified DELETE
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql(statement)
    assert EventLog(engine).count() == 1
