"""The reads an answer to an alert needs: the alert it answers, and whether the log already holds that answer."""

from __future__ import annotations

from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraudlog.domain.events import EVENT_ALERT_OUTCOME, NewEvent, same_answer
from fraudlog.store.errors import driver_errors
from fraudlog.store.tables import alerts, events


class AnsweredAlert(NamedTuple):
    """What an answer needs of the alert it answers: its transaction, and whether it reached the customer."""

    alert_id: str
    transaction_id: str
    status: str


def alert_to_answer(engine: Engine, alert_id: str) -> AnsweredAlert | None:
    stmt = sa.select(alerts.c.id, alerts.c.transaction_id, alerts.c.status).where(alerts.c.id == alert_id)
    with driver_errors(), engine.connect() as conn:
        row = conn.execute(stmt).first()
    return None if row is None else AnsweredAlert(*row)


def stored_answer(conn: Connection, event: NewEvent) -> int | None:
    """The position of an outcome the log holds that is the same answer as `event` (`same_answer`), if any."""
    stmt = (sa.select(events.c.position, events.c.payload)
            .where(events.c.event_type == EVENT_ALERT_OUTCOME, events.c.transaction_id == event.transaction_id)
            .order_by(events.c.position))
    for position, payload in conn.execute(stmt):
        if same_answer(payload, event):
            return int(position)
    return None
