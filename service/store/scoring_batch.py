"""What a scoring batch reads and writes, in as few round trips as the backend allows.

`Scorer.score_positions` reads a batch's transactions, the role changes it may need and the predictions already
stored for it (`read_batch`), scores, then inserts the predictions and alerts and commits (`write_batch`). On
Postgres each of the two is one round trip (`dialect.read_scoring_batch`, `dialect.insert_scores_and_commit`);
SQLite runs the same statements one after another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, RootTransaction

from service.domain.assignment import RoleChange
from service.domain.events import EVENT_TRANSACTION
from service.domain.features import StoredTransaction, TxView
from service.store import dialect, outbox
from service.store.errors import driver_errors
from service.store.event_log import TransactionRead
from service.store.predictions import insert_predictions
from service.store.roles import ROLE_CHANGES_THROUGH_NEWEST, role_changes_from_rows
from service.store.snapshot import json_text
from service.store.tables import events, predictions

_decode_stored_transaction = msgspec.json.Decoder(StoredTransaction).decode


@dataclass(frozen=True)
class BatchRead:
    """A scoring batch's reads, all on the connection of its transaction."""

    records: list[TransactionRead]  # the transactions among the batch's positions, in position order
    role_changes: list[RoleChange]  # the role changes after the `roles_after` asked for, up to `roles_through`
    roles_through: int  # the log's newest position as the role changes were read
    scored: set[tuple[str, int]]  # (transaction_id, model_version) of the predictions already stored


def read_batch(conn: Connection, positions: Sequence[int], *, roles_after: int) -> BatchRead:
    """The transactions at `positions` as scoring reads them (`event_log.read_transactions`), the role changes
    after `roles_after` (`roles.role_changes_through_newest`) and the batch's stored predictions
    (`predictions.existing_predictions`)."""
    rows = dialect.read_scoring_batch(conn, sorted(set(positions)), roles_after, _read_portably)
    changes, newest = role_changes_from_rows(rows.role_changes)
    records = [TransactionRead(TxView.from_stored(position, _decode_stored_transaction(payload)), recorded_at)
               for position, recorded_at, payload in rows.transactions]
    return BatchRead(records, changes, newest, {(tx, int(version)) for tx, version in rows.scored})


def _read_portably(conn: Connection, positions: Sequence[int], roles_after: int) -> dialect.ScoringRows:
    at_positions = dialect.one_of(conn, events.c.position, positions, sa.BigInteger())
    transactions = sa.select(events.c.position, events.c.recorded_at, json_text(events.c.payload)).where(
        at_positions, events.c.event_type == EVENT_TRANSACTION).order_by(events.c.position)
    scored = sa.select(predictions.c.transaction_id, predictions.c.model_version).join_from(
        events, predictions, predictions.c.transaction_id == events.c.transaction_id).where(
        at_positions, events.c.event_type == EVENT_TRANSACTION)
    return dialect.ScoringRows([tuple(row) for row in conn.execute(transactions)],
                               [tuple(row) for row in conn.execute(ROLE_CHANGES_THROUGH_NEWEST,
                                                                    {"after": roles_after})],
                               [tuple(row) for row in conn.execute(scored)])


def write_batch(conn: Connection, writes: RootTransaction, prediction_rows: Sequence[dict[str, Any]],
                alerts: Sequence[dict[str, Any]]) -> set[str]:
    """Insert the predictions (`predictions.insert_predictions`) and alerts (`outbox.insert_alerts`), each
    ignoring what exists (invariants 5 and 6), in one transaction, and commit it; `writes` is SQLAlchemy's
    transaction of `conn`, begun for writing. Returns the transaction ids that got a new alert."""
    rows = [outbox.alert_row(**alert) for alert in alerts]

    def insert_portably(portable_conn: Connection) -> set[str]:
        insert_predictions(portable_conn, prediction_rows)
        alerted = outbox.insert_alert_rows(portable_conn, rows)
        return {row["id"] for row in rows if row["transaction_id"] in alerted}

    with driver_errors():
        inserted = dialect.insert_scores_and_commit(conn, prediction_rows, rows, writes, insert_portably)
    return {row["transaction_id"] for row in rows if row["id"] in inserted}
