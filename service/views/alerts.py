"""The alerts outbox as `GET /v1/alerts` and `fraudlog alerts` show it: newest first, cursor-paginated."""

from __future__ import annotations

from typing import Any, cast

import msgspec

from fraudlog.domain.events import format_time
from fraudlog.domain.records import Reason
from fraudlog.responses.alerts import AlertItem, AlertsPage
from fraudlog.responses.statuses import AlertStatus
from fraudlog.store.outbox import UPDATE_TYPE, AlertPage, AlertRecord
from fraudlog.store.rows import AlertPayloadJSON


def alert_item(alert: AlertRecord) -> AlertItem:
    return AlertItem(
        alert_id=alert.alert_id, transaction_id=alert.transaction_id, card_id=alert.card_id, score=alert.score,
        threshold=alert.threshold, model_version=alert.model_version, created_at=format_time(alert.created_at),
        status=cast(AlertStatus, alert.status), attempts=alert.attempts,
        sent_at=None if alert.sent_at is None else format_time(alert.sent_at), last_error=alert.last_error,
        reasons=_reasons(alert.payload), type=cast(Any, alert.type),
        update_of=alert.payload.get("alert_id") if alert.type == UPDATE_TYPE else None,
        transactions=_covered(alert.payload))


def _covered(payload: AlertPayloadJSON) -> int | None:
    covered = payload.get("transactions")
    return len(covered) if isinstance(covered, list) else None


def _reasons(payload: AlertPayloadJSON) -> list[Reason] | None:
    reasons = payload.get("reasons")
    return None if reasons is None else msgspec.convert(reasons, list[Reason])


def alerts_page(page: AlertPage) -> AlertsPage:
    return AlertsPage(items=[alert_item(a) for a in page.items], next_cursor=page.next_cursor)
