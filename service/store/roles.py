"""Role changes: the log's promotion and retirement events, read as the domain's `RoleChange`s.

Which version scores an event is a pure function of these events (`service.domain.assignment`); the
registry (refreshing its table as the log grows) and replay (reading one snapshot) both read them here.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.domain.assignment import AssignmentTable, RoleChange, role_change
from service.domain.events import EVENT_PROMOTION, EVENT_RETIREMENT
from service.store.tables import events


def role_changes(conn: Connection, *, after: int = 0, through: int) -> list[RoleChange]:
    """The role changes at positions in (after, through], in position order."""
    stmt = (sa.select(events.c.position, events.c.payload)
            .where(events.c.event_type.in_([EVENT_PROMOTION, EVENT_RETIREMENT]),
                   events.c.position > after, events.c.position <= through)
            .order_by(events.c.position))
    return [role_change(position, payload) for position, payload in conn.execute(stmt)]


def assignment_table(conn: Connection, through: int) -> AssignmentTable:
    """Who scores each event up to `through`, from the role changes this connection sees."""
    return AssignmentTable(role_changes(conn, through=through), known_through=through)
