"""Answers to alerts: a customer's or an analyst's outcome, appended to the log as the label of the alert's
transaction (docs/outcomes.md).

An answer changes nothing in the outbox: the alert keeps its delivery state, so an outcome never re-sends
or loses an alert. A customer can only have answered an alert that reached them: a customer's answer to an
alert not yet `sent` is refused (`AlertNotDelivered`); an analyst may review any alert.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from fraudlog.domain.events import OutcomeIn, Receipt, outcome_event
from fraudlog.store.event_log import EventLog
from fraudlog.store.outbox import SENT
from fraudlog.store.outcomes import alert_to_answer


class UnknownAlert(LookupError):
    def __init__(self, alert_id: str) -> None:
        super().__init__(f"no alert has id {alert_id!r}")


class AlertNotDelivered(ValueError):
    def __init__(self, alert_id: str, status: str) -> None:
        super().__init__(f"alert {alert_id!r} is {status}, not sent: no customer has seen it to answer it")


def record_outcome(engine: Engine, alert_id: str, answer: OutcomeIn, actor: str,
                   now: datetime | None = None) -> Receipt:
    """Append `answer` to alert `alert_id`, sent by the API key named `actor`; the receipt says whether it was new."""
    alert = alert_to_answer(engine, alert_id)
    if alert is None:
        raise UnknownAlert(alert_id)
    if answer.answered_by == "customer" and alert.status != SENT:
        raise AlertNotDelivered(alert_id, alert.status)
    event = outcome_event(answer, alert_id=alert.alert_id, transaction_id=alert.transaction_id, actor=actor,
                          received_at=now or datetime.now(UTC))
    return EventLog(engine).append_outcome(event)
