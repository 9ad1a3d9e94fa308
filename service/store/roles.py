"""Role changes: the log's promotion and retirement events, read as the domain's `RoleChange`s.

Which version scores an event is a pure function of these events (`fraudlog.domain.assignment`); the
registry (refreshing its table as the log grows) and replay (reading one snapshot) both read them here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fraudlog.domain.assignment import AssignmentTable, RoleChange, role_change
from fraudlog.domain.events import EVENT_PROMOTION, EVENT_RETIREMENT
from fraudlog.store.tables import decode_json, events, json_text

ROLE_EVENTS = (EVENT_PROMOTION, EVENT_RETIREMENT)


def role_changes(conn: Connection, *, after: int = 0, through: int) -> list[RoleChange]:
    """The role changes at positions in (after, through], in position order."""
    stmt = (sa.select(events.c.position, events.c.payload)
            .where(events.c.event_type.in_(ROLE_EVENTS),
                   events.c.position > after, events.c.position <= through)
            .order_by(events.c.position))
    return [role_change(position, payload) for position, payload in conn.execute(stmt)]


def _role_changes_through_newest(after: sa.BindParameter[int]) -> sa.Select[Any]:
    # The newest position and the role changes up to it in one statement, so one snapshot: every position up to
    # the newest one is visible in it (invariant 2), and no role change below it can appear later. A row per
    # role change, or one row of NULLs beside the newest position when there is none.
    newest = sa.select(sa.func.coalesce(sa.func.max(events.c.position), 0).label("newest")).subquery("newest")
    changes = sa.and_(events.c.event_type.in_(ROLE_EVENTS), events.c.position > after,
                      events.c.position <= newest.c.newest)
    return (sa.select(newest.c.newest, events.c.position, json_text(events.c.payload))
            .select_from(newest.outerjoin(events, changes))
            .order_by(events.c.position))


# Run as it is on SQLite and compiled once for the driver's pipeline on Postgres (`postgres.PostgresBackend`), which
# is why `after` may be left unbound while compiling.
ROLE_CHANGES_THROUGH_NEWEST = _role_changes_through_newest(
    sa.bindparam("after", type_=sa.BigInteger(), required=False))


def role_changes_through_newest(conn: Connection, *, after: int) -> tuple[list[RoleChange], int]:
    """The role changes after `after` up to the newest position of the log, and that position, in one query
    (one round trip, where `last_position` and then `role_changes` took two)."""
    return role_changes_from_rows(conn.execute(ROLE_CHANGES_THROUGH_NEWEST, {"after": after}).all())


def role_changes_from_rows(rows: Sequence[Sequence[Any]]) -> tuple[list[RoleChange], int]:
    """Rows of (newest position, role change position or None, payload text or None) as the role changes and
    the newest position (0 for an empty log)."""
    newest = int(rows[0][0]) if rows else 0
    return [role_change(int(position), decode_json(payload)) for _, position, payload in rows
            if position is not None], newest


def assignment_table(conn: Connection, through: int) -> AssignmentTable:
    """Who scores each event up to `through`, from the role changes this connection sees."""
    return AssignmentTable(role_changes(conn, through=through), known_through=through)
