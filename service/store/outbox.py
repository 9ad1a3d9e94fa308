"""The alerts outbox: at most one alert per transaction, and the state of its delivery.

The scoring transaction inserts the alert beside the champion's prediction (invariant 6), so an
alert exists exactly when its prediction does. A relay then claims rows pgmq-style: it takes a lease
(`locked_until`) instead of holding a lock across the network call, so a relay that dies releases its
claim when the lease runs out, and no connection stays open while a webhook is slow.

Column names `id`, `aggregatetype`, `aggregateid`, `type` and `payload` follow Debezium's outbox event
router, so a CDC relay can replace this polling one; `payload` is exactly what the customer receives.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypedDict, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraudlog.domain.alert_window import AlertWindow
from fraudlog.domain.events import format_time
from fraudlog.domain.records import RaisedAlert, StoredExplanation
from fraudlog.redaction import redact_urls
from fraudlog.store.backend import backend_for
from fraudlog.store.engine import write_transaction
from fraudlog.store.errors import StoreError, driver_errors
from fraudlog.store.rows import AlertPayloadJSON, CoveredTransaction, MemberRow, OutboxRow
from fraudlog.store.tables import UTCDateTime, alert_members, alerts, decode_json, predictions

# Fixed forever: alert ids are uuid5(namespace, transaction id), so a rebuild or a resend carries the same
# id, and the receiver's Idempotency-Key deduplication keeps working across them.
ALERT_NAMESPACE = uuid.UUID("fc290b24-7bf2-48ea-b13f-d9ee90d9a5b2")

AGGREGATE_TYPE = "transaction"
EVENT_TYPE = "fraud_alert"
# A transaction that joins an alert after a relay took it reaches the customer as an update of that alert: its own
# outbox row and webhook-id (`update_id`), the same `alert_id` (invariant 22).
UPDATE_TYPE = "fraud_alert.updated"
PENDING, SENT, FAILED = "pending", "sent", "failed"
STATUSES = (PENDING, SENT, FAILED)
MAX_ERROR_CHARS = 500
MAX_PAGE = 1_000


class InvalidCursor(StoreError, ValueError):
    """A pagination cursor that this module did not hand out."""


@dataclass(frozen=True)
class ClaimedAlert:
    """An alert leased to one relay until `locked_until`; `payload` is the body to deliver."""

    alert_id: str
    payload: AlertPayloadJSON
    attempts: int
    locked_until: datetime


@dataclass(frozen=True)
class AlertRecord:
    """One alert as `GET /v1/alerts` shows it: exactly the contract's fields."""

    alert_id: str
    transaction_id: str
    card_id: str | None
    score: float
    threshold: float
    model_version: int
    created_at: datetime
    status: str
    attempts: int
    sent_at: datetime | None
    last_error: str | None
    payload: AlertPayloadJSON  # what the sink receives: its `reasons` are shown
    type: str = EVENT_TYPE  # or UPDATE_TYPE: transactions that joined the alert after it was taken


@dataclass(frozen=True)
class AlertPage:
    """A page of alerts, newest first; pass `next_cursor` back for the next page (None: no more)."""

    items: list[AlertRecord]
    next_cursor: str | None


# -- statements, built once ---------------------------------------------------------------------------

_now_param = sa.bindparam("now", type_=UTCDateTime())

# FOR UPDATE SKIP LOCKED lets concurrent relays on Postgres take disjoint rows without waiting on each
# other; SQLite ignores the clause and gets the same exclusion from BEGIN IMMEDIATE (write_transaction).
_claimable = (
    sa.select(alerts.c.id)
    .where(alerts.c.status == PENDING, alerts.c.available_at <= _now_param,
           sa.or_(alerts.c.locked_until.is_(None), alerts.c.locked_until < _now_param))
    .order_by(alerts.c.available_at)
    .limit(sa.bindparam("limit", type_=sa.Integer()))
    .with_for_update(skip_locked=True)
)
claim_statement = (
    sa.update(alerts)
    .where(alerts.c.id.in_(_claimable))
    .values(locked_until=sa.bindparam("locked_until", type_=UTCDateTime()))
    .returning(alerts.c.id, alerts.c.payload, alerts.c.attempts, alerts.c.type)
)

_message = sa.bindparam("message_id", type_=sa.String())
_fixed = alert_members.alias("fixed")
# A message's members are fixed the first time a relay takes it, never later: a resend carries the same body, and
# a transaction that joins after that first take goes out as an update, never slipped into a body the receiver
# may already have (and would drop as a repeat of its webhook-id).
fix_members_statement = (
    sa.update(alert_members)
    .where(alert_members.c.alert_id == _message, alert_members.c.message_id.is_(None),
           ~sa.exists().where(_fixed.c.message_id == _message))
    .values(message_id=_message)
)
# Members that joined an alert already taken by a relay, and no update carries yet. SKIP LOCKED: two relays
# never put one member in two updates (SQLite's BEGIN IMMEDIATE gives the same exclusion).
_loose_members = (
    sa.select(alert_members)
    .where(alert_members.c.message_id.is_(None),
           # Correlated, so that each of the few loose members is checked by the alert's index, never a scan of
           # every member ever delivered.
           sa.exists().where(_fixed.c.alert_id == alert_members.c.alert_id, _fixed.c.message_id.is_not(None)))
    .order_by(alert_members.c.alert_id, alert_members.c.position)
    .with_for_update(skip_locked=True)
)

# The columns `AlertRecord` is built from, in its field order (the review queue reads alerts with them too).
ALERT_VIEW_COLUMNS = (alerts.c.id, alerts.c.transaction_id, alerts.c.card_id, alerts.c.score, alerts.c.threshold,
                 alerts.c.model_version, alerts.c.created_at, alerts.c.status, alerts.c.attempts,
                 alerts.c.sent_at, alerts.c.last_error, alerts.c.payload, alerts.c.type)


# -- writing ------------------------------------------------------------------------------------------

def alert_id_for(key: str) -> str:
    """The alert id of a key (`AlertWindow.alert_key`: a card's window, or a transaction): the same on every
    worker, every retry and every rebuild."""
    return str(uuid.uuid5(ALERT_NAMESPACE, key))


def coalesced_rows(alerts_to_add: Sequence[RaisedAlert], event_times: dict[str, datetime | None],
                   window: AlertWindow, *, status: str = PENDING, last_error: str | None = None,
                   ) -> tuple[list[OutboxRow], list[MemberRow]]:
    """The outbox rows (one per alert, however many of its members the batch holds) and member rows (one per
    transaction) for alerting champion predictions, as `window` groups them. Inserted ignoring what exists, the
    first transaction of an alert to commit opens it; the others only add their member row (invariant 22)."""
    rows: dict[str, OutboxRow] = {}
    members: list[MemberRow] = []
    for alert in sorted(alerts_to_add, key=lambda a: a["position"]):
        event_time = event_times.get(alert["transaction_id"])
        alert_id = alert_id_for(window.alert_key(transaction_id=alert["transaction_id"], card_id=alert["card_id"],
                                                 event_time=event_time))
        members.append(member_row(alert_id, alert, event_time,
                                  message_id=alert_id if status != PENDING else None))
        if alert_id not in rows:
            rows[alert_id] = alert_row(**alert, alert_id=alert_id, status=status, last_error=last_error)
    return list(rows.values()), members


def member_row(alert_id: str, alert: RaisedAlert, event_time: datetime | None, *,
               message_id: str | None = None) -> MemberRow:
    """The `alert_members` row of one alerting transaction."""
    return {"transaction_id": alert["transaction_id"], "alert_id": alert_id, "card_id": alert["card_id"],
            "position": alert["position"], "event_time": event_time, "score": float(alert["score"]),
            "threshold": float(alert["threshold"]), "model_version": int(alert["model_version"]),
            "created_at": alert["created_at"], "message_id": message_id}


def alert_payload(*, transaction_id: str, card_id: str | None, score: float, threshold: float,
                  model_version: int, created_at: datetime, alert_id: str | None = None,
                  reasons: StoredExplanation | None = None) -> AlertPayloadJSON:
    """The JSON the customer-facing sink receives for one alert; a relay adds `transactions`, the transactions
    the message covers, when it first takes the message. `reasons`, the opening prediction's stored
    explanation, adds its top reasons and how they were computed (`fraudlog.models.explanations`)."""
    payload: AlertPayloadJSON = {
        "type": EVENT_TYPE,
        "alert_id": alert_id_for(transaction_id) if alert_id is None else alert_id,
        "transaction_id": transaction_id,
        "card_id": card_id,
        "score": float(score),
        "threshold": float(threshold),
        "model_version": int(model_version),
        "created_at": format_time(created_at),
    }
    if reasons is not None:
        payload["reasons"] = reasons["reasons"]
        payload["explanation"] = {"method": reasons["method"], "units": reasons["units"],
                                  "base_value": reasons["base_value"], "top_k": reasons["top_k"]}
    return payload


def insert_alert(conn: Connection, *, transaction_id: str, card_id: str | None, score: float,
                 threshold: float, model_version: int, position: int, created_at: datetime) -> bool:
    """Add the alert inside the caller's scoring transaction; False when the transaction already has one."""
    return bool(insert_alerts(conn, [{"transaction_id": transaction_id, "card_id": card_id, "score": score,
                                      "threshold": threshold, "model_version": model_version, "position": position,
                                      "created_at": created_at}]))


def insert_alerts(conn: Connection, alerts_to_add: Sequence[RaisedAlert]) -> set[str]:
    """`insert_alert` for a batch in one statement; returns the transaction ids that got a new alert."""
    return insert_alert_rows(conn, [alert_row(**alert) for alert in alerts_to_add])


def insert_alert_rows(conn: Connection, rows: Sequence[OutboxRow]) -> set[str]:
    """Insert rows built by `alert_row`, skipping transactions that have an alert; returns the transaction
    ids that got a new one."""
    if not rows:
        return set()
    with driver_errors():
        inserted = backend_for(conn).insert_alert_rows(conn, rows)
    return {row["transaction_id"] for row in rows if row["id"] in inserted}


def insert_alert_members(conn: Connection, rows: Sequence[MemberRow]) -> set[str]:
    """Insert `alert_members` rows, skipping transactions that joined an alert already; returns the transaction
    ids inserted."""
    if not rows:
        return set()
    with driver_errors():
        return backend_for(conn).insert_member_rows(conn, rows)


def alert_row(*, transaction_id: str, card_id: str | None, score: float, threshold: float, model_version: int,
              position: int, created_at: datetime, status: str = PENDING, last_error: str | None = None,
              alert_id: str | None = None, reasons: StoredExplanation | None = None) -> OutboxRow:
    """The outbox row of one alert, due at once. `fraudlog rebuild` writes its alerts `sent` with a
    `last_error` that says why (delivery state is not in the log); everything else writes them `pending`."""
    payload = alert_payload(transaction_id=transaction_id, card_id=card_id, score=score, threshold=threshold,
                            model_version=model_version, created_at=created_at, alert_id=alert_id, reasons=reasons)
    return {
        "id": payload["alert_id"], "aggregatetype": AGGREGATE_TYPE, "aggregateid": transaction_id,
        "type": EVENT_TYPE, "payload": payload, "transaction_id": transaction_id, "card_id": card_id,
        "score": payload["score"], "threshold": payload["threshold"],
        "model_version": payload["model_version"], "position": position, "created_at": created_at,
        "status": status, "attempts": 0, "available_at": created_at, "sent_at": None, "last_error": last_error,
    }


def claim_pending_alerts(engine: Engine, *, limit: int, visibility_timeout: timedelta,
                         now: datetime | None = None) -> list[ClaimedAlert]:
    """Lease up to `limit` due alerts until now + `visibility_timeout`; nobody else claims them meanwhile."""
    now = _now(now)
    locked_until = now + visibility_timeout
    params = {"now": now, "limit": limit, "locked_until": locked_until}
    with driver_errors(), write_transaction(engine) as conn:
        _open_updates(conn, now)
        rows = conn.execute(claim_statement, params).all()
        for row in rows:
            if row.type == EVENT_TYPE:
                conn.execute(fix_members_statement, {"message_id": row.id})
        payloads = _with_members(conn, {row.id: cast(AlertPayloadJSON, dict(row.payload)) for row in rows})
    claimed = [ClaimedAlert(row.id, payloads[row.id], row.attempts, locked_until) for row in rows]
    # RETURNING order is unspecified; oldest first keeps delivery roughly in creation order.
    return sorted(claimed, key=lambda alert: (alert.payload["created_at"], alert.alert_id))


def _open_updates(conn: Connection, now: datetime) -> None:
    """One update message per alert for the members that joined it after a relay first took it."""
    loose = conn.execute(_loose_members).all()
    for alert_id, group in itertools.groupby(loose, key=lambda member: member.alert_id):
        joined = list(group)
        first = joined[0]
        update_id = alert_id_for(f"{alert_id}:update:{first.transaction_id}")
        row = alert_row(transaction_id=first.transaction_id, card_id=first.card_id, score=first.score,
                        threshold=first.threshold, model_version=first.model_version, position=first.position,
                        created_at=now, alert_id=update_id)
        payload = row["payload"]
        payload["type"], payload["alert_id"], payload["update_id"] = UPDATE_TYPE, alert_id, update_id
        row["type"], row["aggregateid"] = UPDATE_TYPE, alert_id
        if backend_for(conn).insert_alert_rows(conn, [row]):
            conn.execute(sa.update(alert_members)
                         .where(alert_members.c.transaction_id.in_([m.transaction_id for m in joined]))
                         .values(message_id=update_id))


def _with_members(conn: Connection, payloads: dict[str, AlertPayloadJSON]) -> dict[str, AlertPayloadJSON]:
    """Each message's payload with the transactions it covers, stored back so that `payload` stays exactly what
    the customer receives. Messages of alerts made before coalescing have no members and keep their payload."""
    if not payloads:
        return payloads
    # Each covered transaction with its own reasons: the explanation its alerting prediction stored.
    stmt = (sa.select(alert_members, predictions.c.reasons)
            .join(predictions, sa.and_(predictions.c.transaction_id == alert_members.c.transaction_id,
                                       predictions.c.model_version == alert_members.c.model_version),
                  isouter=True)
            .where(alert_members.c.message_id.in_(list(payloads)))
            .order_by(alert_members.c.position))
    covered: dict[str, list[CoveredTransaction]] = {}
    for member in conn.execute(stmt):
        reasons = decode_json(member.reasons) if isinstance(member.reasons, str) else member.reasons
        transaction: CoveredTransaction = {
            "transaction_id": member.transaction_id, "score": float(member.score),
            "threshold": float(member.threshold), "model_version": int(member.model_version),
            "event_time": None if member.event_time is None else format_time(member.event_time)}
        if reasons is not None:
            transaction["reasons"] = reasons["reasons"]
        covered.setdefault(member.message_id, []).append(transaction)
    for message_id, transactions in covered.items():
        payloads[message_id]["transactions"] = transactions
        conn.execute(sa.update(alerts).where(alerts.c.id == message_id).values(payload=payloads[message_id]))
    return payloads


def mark_sent(bind: Engine | Connection, alert_ids: Collection[str], sent_at: datetime) -> int:
    """Record delivery and release the lease; `sent_at` is written once, so a late resend never moves it.

    `last_error` is cleared: it describes why the alert is not delivered yet, and once it is, a stale reason
    would send whoever reads `/v1/alerts` after a problem that no longer exists. Committed at once, on a
    connection of the pool or on `bind` (a relay marks alert after alert on one: `write_connection`)."""
    if not alert_ids:
        return 0
    # No status condition: if an expired lease let another relay fail this alert meanwhile, the receiver
    # still accepted it, and "sent" is the truth.
    stmt = (sa.update(alerts).where(alerts.c.id.in_(list(alert_ids)), alerts.c.sent_at.is_(None))
            .values(status=SENT, sent_at=sent_at, locked_until=None, last_error=None))
    with driver_errors():
        if isinstance(bind, Connection):
            with bind.begin():
                return bind.execute(stmt).rowcount
        with write_transaction(bind) as conn:
            return conn.execute(stmt).rowcount


class RetryPolicy(Protocol):
    """When a failed alert is tried again (`fraudlog.alerts.schedule.RetrySchedule` is the one shipped)."""

    def next_attempt(self, alert_id: str, attempts: int, created_at: datetime, now: datetime) -> datetime | None:
        """The time of the next attempt after `attempts` failures, the last at `now`; None: give up."""
        ...


def record_failure(engine: Engine, alert_id: str, error: str, *, policy: RetryPolicy,
                   now: datetime | None = None) -> str | None:
    """Count a failed send: back off as `policy` says, or give up as `failed`. Returns the new status.

    None when the alert is not pending any more (another relay delivered it after this one's lease expired).
    """
    now = _now(now)
    current = (sa.select(alerts.c.attempts, alerts.c.created_at)
               .where(alerts.c.id == alert_id, alerts.c.status == PENDING).with_for_update())
    with driver_errors(), write_transaction(engine) as conn:
        row = conn.execute(current).first()
        if row is None:
            return None
        attempts = row.attempts + 1
        retry_at = policy.next_attempt(alert_id, attempts, row.created_at, now)
        status = FAILED if retry_at is None else PENDING
        conn.execute(sa.update(alerts).where(alerts.c.id == alert_id).values(
            attempts=attempts, status=status, last_error=_stored_error(error),
            available_at=now if retry_at is None else retry_at, locked_until=None))
    return status


def retry_alert(engine: Engine, alert_id: str, now: datetime | None = None) -> bool:
    """Send a `failed` alert again from scratch (`fraudlog alerts retry ID`); False if it is not failed."""
    # last_error stays: it explains why the alert needed a manual retry until the next attempt replaces it.
    stmt = (sa.update(alerts).where(alerts.c.id == alert_id, alerts.c.status == FAILED)
            .values(status=PENDING, attempts=0, available_at=_now(now), locked_until=None))
    with driver_errors(), write_transaction(engine) as conn:
        return conn.execute(stmt).rowcount == 1


# -- reading ------------------------------------------------------------------------------------------

def list_alerts(engine: Engine, *, status: str | None = None, since: datetime | None = None,
                card_id: str | None = None, limit: int = 100, cursor: str | None = None) -> AlertPage:
    """Alerts newest first by (created_at, id), filtered, one page of at most `limit`."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    stmt = sa.select(*ALERT_VIEW_COLUMNS).order_by(alerts.c.created_at.desc(), alerts.c.id.desc()).limit(limit + 1)
    if status is not None:
        stmt = stmt.where(alerts.c.status == status)
    if since is not None:
        stmt = stmt.where(alerts.c.created_at >= since)
    if card_id is not None:
        stmt = stmt.where(alerts.c.card_id == card_id)
    if cursor is not None:
        created_at, alert_id = decode_cursor(cursor)
        # Keyset pagination: rows inserted while a client pages never shift or repeat what it sees.
        stmt = stmt.where(sa.or_(alerts.c.created_at < created_at,
                                 sa.and_(alerts.c.created_at == created_at, alerts.c.id < alert_id)))
    with driver_errors(), engine.connect() as conn:
        items = [AlertRecord(*tuple(row)) for row in conn.execute(stmt)]
    if len(items) <= limit:
        return AlertPage(items, None)
    last = items[limit - 1]
    return AlertPage(items[:limit], encode_cursor(last.created_at, last.alert_id))


def alert_for_transaction(engine: Engine, transaction_id: str) -> AlertRecord | None:
    """The alert that covers a transaction, if any (at most one does): the one it joined, or, made before
    coalescing, its own."""
    joined = sa.select(alert_members.c.alert_id).where(alert_members.c.transaction_id == transaction_id)
    stmt = sa.select(*ALERT_VIEW_COLUMNS).where(alerts.c.type == EVENT_TYPE, sa.or_(
        alerts.c.id.in_(joined), alerts.c.transaction_id == transaction_id)).limit(1)
    with driver_errors(), engine.connect() as conn:
        row = conn.execute(stmt).first()
    return None if row is None else AlertRecord(*tuple(row))


def count_by_status(engine: Engine) -> dict[str, int]:
    """How many alerts are pending, sent and failed (updates of alerts not counted); every status is present,
    zero when none."""
    stmt = sa.select(alerts.c.status, sa.func.count()).where(alerts.c.type == EVENT_TYPE).group_by(alerts.c.status)
    with driver_errors(), engine.connect() as conn:
        counts = {status: int(count) for status, count in conn.execute(stmt)}
    return {status: counts.get(status, 0) for status in STATUSES}


class AlertCoverage(TypedDict):
    """Alerts, the updates sent of them, and the transactions they cover."""

    alerts: int
    updates: int
    covered_transactions: int


def alert_coverage(engine: Engine) -> AlertCoverage:
    """Alerts, the updates sent of them, and the transactions they cover: apart, since one alert covers a card's
    whole burst (invariant 22). Alerts made before coalescing cover their own transaction."""
    counts = sa.select(alerts.c.type, sa.func.count()).group_by(alerts.c.type)
    legacy = (sa.select(sa.func.count()).select_from(alerts)
              .where(alerts.c.type == EVENT_TYPE, ~sa.exists().where(alert_members.c.alert_id == alerts.c.id)))
    with driver_errors(), engine.connect() as conn:
        by_type = {kind: int(n) for kind, n in conn.execute(counts)}
        members = int(conn.execute(sa.select(sa.func.count()).select_from(alert_members)).scalar_one())
        uncovered = int(conn.execute(legacy).scalar_one())
    return {"alerts": by_type.get(EVENT_TYPE, 0), "updates": by_type.get(UPDATE_TYPE, 0),
            "covered_transactions": members + uncovered}


def alerts_by_version(conn: Connection, first: int, through: int) -> dict[int, int]:
    """The transactions at positions in [first, through] that alerted (each covered by one alert, invariant 22),
    per model version: what the outbox holds, comparable with a version's own scores over its threshold."""
    members = (sa.select(alert_members.c.model_version.label("version"))
               .where(alert_members.c.position.between(first, through)))
    legacy = (sa.select(alerts.c.model_version.label("version"))
              .where(alerts.c.position.between(first, through), alerts.c.type == EVENT_TYPE,
                     ~sa.exists().where(alert_members.c.alert_id == alerts.c.id)))
    alerted = sa.union_all(members, legacy).subquery()
    stmt = sa.select(alerted.c.version, sa.func.count()).group_by(alerted.c.version)
    return {int(version): int(n) for version, n in conn.execute(stmt)}


def encode_cursor(created_at: datetime, alert_id: str) -> str:
    """An opaque cursor: clients pass it back unchanged and must not depend on its contents."""
    raw = json.dumps([created_at.astimezone(UTC).isoformat(), alert_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_text, alert_id = json.loads(raw)
        created_at = datetime.fromisoformat(created_text)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidCursor("the cursor is not one this API handed out") from exc
    if created_at.tzinfo is None or not isinstance(alert_id, str):
        raise InvalidCursor("the cursor is not one this API handed out")
    return created_at, alert_id


def _now(now: datetime | None) -> datetime:
    return datetime.now(UTC) if now is None else now


def _stored_error(text: str) -> str:
    # Shown by `GET /v1/alerts` and `fraudlog alerts`: one line, bounded, and never a URL's credentials,
    # whichever sink produced the text.
    return redact_urls(" ".join(text.split()))[:MAX_ERROR_CHARS]
