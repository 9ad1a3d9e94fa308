"""The labels projection: the latest verdict per transaction, kept beside the log it is derived from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from service.domain.events import parse_time
from service.store.engine import dialect_insert
from service.store.event_log import NewEvent
from service.store.tables import labels


def project_labels(conn: Connection, appended: Sequence[tuple[NewEvent, int]]) -> None:
    """Upsert the latest label per transaction; a changed verdict counts as a correction.

    Runs in the append's own transaction, so the projection never lags the log it was built from.
    """
    latest: dict[str, tuple[NewEvent, int]] = {}
    for event, position in sorted(appended, key=lambda pair: pair[1]):
        if event.transaction_id:
            latest[event.transaction_id] = (event, position)
    if not latest:
        return
    rows = [
        {"transaction_id": tx, "is_fraud": bool(event.payload["is_fraud"]),
         "labeled_at": parse_time(event.payload["labeled_at"]), "position": position, "corrections": 0}
        for tx, (event, position) in latest.items()
    ]
    stmt = dialect_insert(conn, labels)
    changed = sa.case((labels.c.is_fraud != stmt.excluded.is_fraud, 1), else_=0)
    stmt = stmt.on_conflict_do_update(
        index_elements=[labels.c.transaction_id],
        set_={"is_fraud": stmt.excluded.is_fraud, "labeled_at": stmt.excluded.labeled_at,
              "position": stmt.excluded.position, "corrections": labels.c.corrections + changed},
        where=stmt.excluded.position > labels.c.position,
    )
    conn.execute(stmt, rows)


def label_for(engine: Engine, transaction_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(labels).where(labels.c.transaction_id == transaction_id)).mappings().first()
    return None if row is None else dict(row)
