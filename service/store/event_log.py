"""The append-only event log: append in batches, read by position, walk in chunks, look up by transaction id.

Appends take a list of *units*. A unit is what one request sent and is all-or-nothing: when any of its
transactions reuses an id with a different body, the unit stores nothing and reports the conflicts. Units
are independent of each other, which lets the API commit many concurrent requests in one database
transaction (group commit) without one client's conflict failing another's request.

Reads that belong to a larger unit of work (replay's snapshot, a scoring transaction) take a connection:
`walk`, `last_position`, `count_by_type`. `EventLog` offers the same on its own connections. The API's
writer thread appends on a `WriterConnection` of its own (no pool checkout or ping per group commit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraudlog.domain.events import EVENT_TRANSACTION, LABEL_EVENT_TYPES, NewEvent, Receipt
from fraudlog.domain.features import StoredTransaction, TxView
from fraudlog.domain.label_sources import RANK, source_of
from fraudlog.store.backend import backend_for
from fraudlog.store.engine import WriterConnection, write_transaction
from fraudlog.store.errors import CommitInDoubt, driver_errors
from fraudlog.store.labels import Verdict, effective_verdicts, project_labels
from fraudlog.store.outcomes import stored_answer
from fraudlog.store.recorders import LogHead, LogRecorder
from fraudlog.store.statements import known_transactions, transactions_at
from fraudlog.store.tables import decode_json, events, json_text

WALK_CHUNK = 1_000

# What an append already knows of a transaction id: the digest (transactions) or verdict (labels) it was
# last given, and the position of that event (None while it is new in this append).
Known = dict[str, tuple[str, int | None]]
# Takes the log's lock; returns what the log knows of these ids and the log's head (the position the next appended
# event takes, the time to stamp): the two go together, see `LogRecorder.lock_and_find_transactions`.
LockAndLookup = Callable[[LogRecorder, Connection, set[str]], tuple[Known, LogHead]]
StatusOf = Callable[[NewEvent, tuple[str, int | None] | None], str]
Projection = Callable[[Connection, Sequence[tuple[NewEvent, int]]], None]


@dataclass(frozen=True)
class EventRecord:
    """An event as stored in the log."""

    position: int
    event_type: str
    transaction_id: str | None
    card_id: str | None
    event_time: datetime | None
    recorded_at: datetime
    payload: dict[str, Any]
    digest: str


@dataclass(frozen=True, slots=True)
class TransactionRead:
    """A transaction event as scoring reads it: the view features are computed from, and when it was logged."""

    view: TxView
    recorded_at: datetime


@dataclass
class UnitOutcome:
    """What happened to one unit: a receipt per event, or the ids that conflict (and nothing stored)."""

    receipts: list[Receipt] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    @property
    def new_positions(self) -> list[int]:
        return [r.position for r in self.receipts if r.status != "duplicate"]


@dataclass
class _AppendPlan:
    outcomes: list[UnitOutcome] = field(default_factory=list)
    rows: list[NewEvent] = field(default_factory=list)
    new_receipts: list[Receipt] = field(default_factory=list)  # parallel to rows
    duplicates_of_new: list[tuple[Receipt, Receipt]] = field(default_factory=list)


_COLUMNS = (events.c.position, events.c.event_type, events.c.transaction_id, events.c.card_id,
            events.c.event_time, events.c.recorded_at, events.c.payload, events.c.digest)
# The same columns with the payload as text, for the walk to decode with msgspec (see `json_text`).
_WALK_COLUMNS = (*_COLUMNS[:6], json_text(events.c.payload), events.c.digest)
_decode_stored_transaction = msgspec.json.Decoder(StoredTransaction).decode
_last_position = sa.select(sa.func.coalesce(sa.func.max(events.c.position), 0))


def _record(row: Any) -> EventRecord:
    return EventRecord(*row)


# -- reads on the caller's connection -----------------------------------------------------------------

def walk(conn: Connection, first: int = 1, through: int | None = None, event_types: Iterable[str] | None = None,
         chunk: int = WALK_CHUNK) -> Iterator[list[EventRecord]]:
    """The events with first <= position <= through (None: to the end), in position order, `chunk` at a time.

    Streamed with a server-side cursor, so memory holds one chunk whatever the log's length. Read it on a
    snapshot (`read_only_snapshot`) to see the log as it stood at one instant.
    """
    stmt = sa.select(*_WALK_COLUMNS).where(events.c.position >= first).order_by(events.c.position)
    if through is not None:
        stmt = stmt.where(events.c.position <= through)
    if event_types is not None:
        stmt = stmt.where(events.c.event_type.in_(list(event_types)))
    batch: list[EventRecord] = []
    for row in conn.execute(stmt.execution_options(stream_results=True, yield_per=chunk)):
        position, event_type, transaction_id, card_id, event_time, recorded_at, payload, digest = row
        batch.append(EventRecord(position, event_type, transaction_id, card_id, event_time, recorded_at,
                                 decode_json(payload), digest))
        if len(batch) >= chunk:
            yield batch
            batch = []
    if batch:
        yield batch


def read_transactions(conn: Connection, positions: Sequence[int]) -> list[TransactionRead]:
    """The transaction events among these positions, in position order, as scoring reads them: the
    payload decoded by type, straight into floats (`StoredTransaction`), with no dict in between."""
    at_positions = backend_for(conn).one_of(events.c.position, positions, sa.BigInteger())
    rows = conn.execute(transactions_at(at_positions)).all()
    return [TransactionRead(TxView.from_stored(position, _decode_stored_transaction(payload)), recorded_at)
            for position, recorded_at, payload in rows]


def last_position(conn: Connection) -> int:
    """The position of the newest event this connection sees; 0 for an empty log."""
    return int(conn.execute(_last_position).scalar_one())


def count_by_type(conn: Connection, first: int = 1, through: int | None = None) -> dict[str, int]:
    """Events with first <= position <= through (None: to the end), counted by type."""
    stmt = sa.select(events.c.event_type, sa.func.count()).where(events.c.position >= first)
    if through is not None:
        stmt = stmt.where(events.c.position <= through)
    return {str(kind): int(n) for kind, n in conn.execute(stmt.group_by(events.c.event_type))}


def count_after(conn: Connection, position: int, event_type: str = EVENT_TRANSACTION) -> int:
    """Events of `event_type` after `position`: what an event-count retraining schedule counts."""
    stmt = sa.select(sa.func.count()).select_from(events).where(events.c.event_type == event_type,
                                                                events.c.position > position)
    return int(conn.execute(stmt).scalar_one())


class EventLog:
    """The event log on one engine (SQLite or Postgres).

    With `own_writer`, appends run on one long-lived connection (`WriterConnection`): for the single thread
    that appends all the time, the API's group committer. Call `close` when done with it.
    """

    def __init__(self, engine: Engine, *, own_writer: bool = False) -> None:
        self.engine = engine
        self._recorder: LogRecorder = backend_for(engine)
        self._writer = WriterConnection(engine) if own_writer else None

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    # -- appending -------------------------------------------------------------------------------------

    def append_transactions(self, units: Sequence[Sequence[NewEvent]], recorded_at: datetime | None = None,
                            ) -> list[UnitOutcome]:
        """Append transaction events; a repeated id is a duplicate when its digest matches, else a conflict."""
        if self._writer is not None and _all_distinct_and_few(units, self._recorder.one_trip_append_rows):
            outcomes = self._append_new(units, recorded_at)
            if outcomes is not None:
                return outcomes
        return self._append(units, recorded_at, _lock_and_find_transactions, _transaction_status)

    def _append_new(self, units: Sequence[Sequence[NewEvent]], recorded_at: datetime | None,
                    ) -> list[UnitOutcome] | None:
        """The API writer's one-round-trip append (`LogRecorder.append_new_transactions`), for a group whose ids are
        all distinct; None when the log holds one of them already (nothing stored: take the general path)."""
        rows = [(e.transaction_id or "", e.card_id, e.event_time, e.digest, e.payload_json) for unit in units
                for e in unit]
        assert self._writer is not None
        recorder = self._recorder
        try:
            with driver_errors():
                positions = self._writer.run(lambda conn: recorder.append_new_transactions(conn, rows, recorded_at))
        except CommitInDoubt:
            # The connection died with COMMIT in flight. The general path, on a new connection, looks the ids up:
            # whatever that COMMIT stored is recognised by id and digest and stored once, and its receipts say
            # "duplicate", as the client's own retry would have heard after a 503.
            return None
        if positions is None:
            return None
        numbered = iter(positions)
        return [UnitOutcome(receipts=[Receipt(e.transaction_id or "", next(numbered), "accepted") for e in unit])
                for unit in units]

    def append_labels(self, units: Sequence[Sequence[NewEvent]], recorded_at: datetime | None = None,
                      ) -> list[UnitOutcome]:
        """Append label-giving events (labels, alert outcomes). The effective label's verdict again from its own
        source is a duplicate (nothing stored); a label that becomes effective with another verdict is a
        correction; any other is accepted (stored, kept, and effective only if the precedence rule says so)."""
        return self._append(units, recorded_at, _lock_and_find_labels, _label_status, project_labels)

    def append_outcome(self, event: NewEvent, recorded_at: datetime | None = None) -> Receipt:
        """Append an answer to an alert (an `alert_outcome` event, a label too). A retry of an answer the log holds
        (`same_answer`) is a duplicate pointing at it; any other answer is kept, whatever it says, and the label
        rule decides whether it is effective (its status as `append_labels` gives it)."""
        lookup = _lock_and_find_answer(event)
        return self._append([[event]], recorded_at, lookup, _answer_status, project_labels)[0].receipts[0]

    def append_unique(self, event: NewEvent, recorded_at: datetime | None = None) -> Receipt:
        """Append an event that the log holds at most once (a suppression, its end): the same event again, with
        the same type, card and digest, is a duplicate pointing at the first."""
        return self._append([[event]], recorded_at, _lock_and_find_same(event), _transaction_status)[0].receipts[0]

    def append_control(self, event: NewEvent, recorded_at: datetime | None = None) -> int:
        """Append a promotion or retirement; returns its position."""
        return self._append([[event]], recorded_at, _lock_only, _transaction_status)[0].receipts[0].position

    def _append(self, units: Sequence[Sequence[NewEvent]], recorded_at: datetime | None, lock_and_lookup: LockAndLookup,
                status_of: StatusOf, project: Projection | None = None) -> list[UnitOutcome]:
        def append_on(conn: Connection) -> tuple[_AppendPlan, list[int]]:
            ids = {e.transaction_id for unit in units for e in unit if e.transaction_id}
            known, head = lock_and_lookup(self._recorder, conn, ids)
            plan = self._plan(units, known, status_of)
            # Stamped with the clock read under the lock, so recorded_at grows with position across API processes.
            positions = self._insert(conn, plan.rows, recorded_at or head.now, head.next_position)
            if project is not None:
                project(conn, list(zip(plan.rows, positions, strict=True)))
            return plan, positions

        with driver_errors():
            if self._writer is not None:
                plan, positions = self._writer.run(append_on)
            else:
                with write_transaction(self.engine) as conn:
                    plan, positions = append_on(conn)
        for receipt, position in zip(plan.new_receipts, positions, strict=True):
            receipt.position = position
        for duplicate, original in plan.duplicates_of_new:
            duplicate.position = original.position
        return plan.outcomes

    def _plan(self, units: Sequence[Sequence[NewEvent]], known: Known, status_of: StatusOf) -> _AppendPlan:
        """Decide, unit by unit, what is new, what is a duplicate and what conflicts."""
        plan = _AppendPlan()
        # Receipts of events new in this group, so a later duplicate can point at the same position.
        appended: dict[str, Receipt] = {}
        for unit in units:
            outcome = UnitOutcome()
            unit_rows: list[tuple[NewEvent, Receipt]] = []
            unit_known = dict(known)
            for event in unit:
                tx_id = event.transaction_id or ""
                status = status_of(event, unit_known.get(tx_id))
                if status == "conflict":
                    outcome.conflicts.append(tx_id)
                    continue
                if status == "duplicate":
                    earlier = appended.get(tx_id) or next((r for e, r in unit_rows if e.transaction_id == tx_id), None)
                    receipt = Receipt(tx_id, 0, "duplicate")
                    if earlier is not None:
                        plan.duplicates_of_new.append((receipt, earlier))
                    else:
                        receipt.position = unit_known[tx_id][1] or 0
                    outcome.receipts.append(receipt)
                    continue
                receipt = Receipt(tx_id, 0, status)
                outcome.receipts.append(receipt)
                unit_rows.append((event, receipt))
                if event.event_type == EVENT_TRANSACTION:
                    unit_known[tx_id] = (event.digest, None)
                elif event.event_type in LABEL_EVENT_TYPES:
                    unit_known[tx_id] = _after_label(event, unit_known.get(tx_id))
            plan.outcomes.append(outcome)
            if outcome.conflicts:
                outcome.receipts.clear()
                continue
            known.update(unit_known)
            for event, receipt in unit_rows:
                plan.rows.append(event)
                plan.new_receipts.append(receipt)
                if event.transaction_id:
                    appended[event.transaction_id] = receipt
        return plan

    def _insert(self, conn: Connection, rows: list[NewEvent], recorded_at: datetime, first_position: int,
                ) -> list[int]:
        return self._recorder.insert_event_rows(conn, [(e.event_type, e.transaction_id, e.card_id, e.event_time,
                                                        recorded_at, e.digest, e.payload_json) for e in rows],
                                                first_position)

    # -- reading ---------------------------------------------------------------------------------------

    def known_transaction_ids(self, transaction_ids: Sequence[str]) -> set[str]:
        """Which of these transaction ids the log holds."""
        with_ids = backend_for(self.engine).one_of(events.c.transaction_id, sorted(set(transaction_ids)), sa.Text())
        with self.engine.connect() as conn:
            return {tx for tx, _, _ in conn.execute(known_transactions(with_ids))}

    def walk(self, first: int = 1, through: int | None = None, event_types: Iterable[str] | None = None,
             chunk: int = WALK_CHUNK) -> Iterator[list[EventRecord]]:
        """`walk` (the module function) on a connection of its own, held for as long as the walk goes on."""
        with self.engine.connect() as conn:
            yield from walk(conn, first, through, event_types, chunk)

    def read_transactions(self, positions: Sequence[int]) -> list[TransactionRead]:
        """`read_transactions` (the module function) on a connection of its own."""
        with self.engine.connect() as conn:
            return read_transactions(conn, positions)

    def get_transaction(self, transaction_id: str) -> EventRecord | None:
        stmt = sa.select(*_COLUMNS).where(
            events.c.event_type == EVENT_TRANSACTION, events.c.transaction_id == transaction_id)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else _record(row)

    def last_position(self) -> int:
        with self.engine.connect() as conn:
            return last_position(conn)

    def count(self, event_type: str | None = None) -> int:
        stmt = sa.select(sa.func.count()).select_from(events)
        if event_type is not None:
            stmt = stmt.where(events.c.event_type == event_type)
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())


def _lock_and_find_transactions(recorder: LogRecorder, conn: Connection, ids: set[str]) -> tuple[Known, LogHead]:
    found, head = recorder.lock_and_find_transactions(conn, sorted(ids))
    return {tx: (dig, pos) for tx, dig, pos in found}, head


def _lock_and_find_labels(recorder: LogRecorder, conn: Connection, ids: set[str]) -> tuple[Known, LogHead]:
    head = recorder.lock_event_log(conn)
    return {tx: (_known_label(verdict), verdict.position)
            for tx, verdict in effective_verdicts(conn, transaction_ids=ids).items()}, head


# A known label is spelt "<source> <is_fraud>": `Known` holds one string per transaction.
def _known_label(verdict: Verdict) -> str:
    return f"{verdict.source} {verdict.is_fraud}"


def _label_of(event: NewEvent) -> Verdict:
    return Verdict(bool(event.payload["is_fraud"]), 0, source_of(event.payload.get("source")))


def _after_label(event: NewEvent, known: tuple[str, int | None] | None) -> tuple[str, int | None]:
    """What the unit knows of a transaction's effective label once `event` is appended."""
    label = _label_of(event)
    if known is not None and RANK[known[0].split(" ")[0]] > RANK[label.source]:
        return known
    return _known_label(label), None


_ANSWERED = "answered "


def _lock_and_find_answer(event: NewEvent) -> LockAndLookup:
    def lookup(recorder: LogRecorder, conn: Connection, ids: set[str]) -> tuple[Known, LogHead]:
        known, head = _lock_and_find_labels(recorder, conn, ids)
        position = stored_answer(conn, event)
        if position is not None:
            known[event.transaction_id or ""] = (_ANSWERED + event.digest, position)
        return known, head
    return lookup


def _lock_and_find_same(event: NewEvent) -> LockAndLookup:
    def lookup(recorder: LogRecorder, conn: Connection, ids: set[str]) -> tuple[Known, LogHead]:
        head = recorder.lock_event_log(conn)
        position = conn.execute(sa.select(events.c.position).where(
            events.c.event_type == event.event_type, events.c.card_id == event.card_id,
            events.c.digest == event.digest).limit(1)).scalar()
        return ({} if position is None else {"": (event.digest, int(position))}), head
    return lookup


def _answer_status(event: NewEvent, known: tuple[str, int | None] | None) -> str:
    if known is not None and known[0] == _ANSWERED + event.digest:
        return "duplicate"
    return _label_status(event, known)


def _lock_only(recorder: LogRecorder, conn: Connection, _ids: set[str]) -> tuple[Known, LogHead]:
    return {}, recorder.lock_event_log(conn)


def _all_distinct_and_few(units: Sequence[Sequence[NewEvent]], most: int) -> bool:
    """Whether a group of transaction units may take the one-round-trip append: every event a transaction with
    an id no other event of the group has, and no more than `most` (`LogRecorder.one_trip_append_rows`)."""
    total = sum(len(unit) for unit in units)
    if not 0 < total <= most:
        return False
    ids = [e.transaction_id for unit in units for e in unit if e.event_type == EVENT_TRANSACTION]
    return len(ids) == total and len(set(ids)) == total


def _transaction_status(event: NewEvent, known: tuple[str, int | None] | None) -> str:
    if known is None:
        return "accepted"
    return "duplicate" if known[0] == event.digest else "conflict"


def _label_status(event: NewEvent, known: tuple[str, int | None] | None) -> str:
    if known is None:
        return "accepted"
    label = _label_of(event)
    if known[0] == _known_label(label):
        return "duplicate"
    held_source, held_verdict = known[0].split(" ")
    if RANK[label.source] >= RANK[held_source] and held_verdict != str(label.is_fraud):
        return "correction"
    return "accepted"

