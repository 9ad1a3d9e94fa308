"""Which suppression, if any, holds back a card's alert (docs/outcomes.md, "Suppression"; invariant 27).

A suppression is two events in the log: its start (`suppression`, with `until`) and, maybe, its early end
(`suppression_end`). It holds back the alert of a transaction of its card that comes after its start in the
log, before its end in the log, and whose event time is before `until`. Positions and event times only, never
the clock: a replay or a rebuild of the log holds back exactly the same alerts, however late it runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from fraudlog.domain.records import RaisedAlert

_NAMESPACE = uuid.UUID("5a1f3e0c-7a61-4c1e-9d0b-51c0a5b7e2d4")


@dataclass(frozen=True)
class Suppression:
    suppression_id: str
    card_id: str
    position: int  # where it starts in the log
    until: datetime  # event time, exclusive
    reason: str
    actor: str
    ended_at: int | None = None  # the position of its `suppression_end`, if it was ended early

    def holds_back(self, card_id: str | None, position: int, event_time: datetime) -> bool:
        return (card_id == self.card_id and self.position < position and event_time < self.until
                and (self.ended_at is None or position < self.ended_at))


def suppression_id_for(card_id: str, until: str, reason: str, actor: str) -> str:
    """The id of a suppression: a function of what it says, so a retried request is the same suppression."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join((card_id, until, reason, actor))))


def holding_back(suppressions: Sequence[Suppression], card_id: str | None, position: int,
                 event_time: datetime) -> str | None:
    """The id of the suppression that holds back this transaction's alert: the earliest started, if several."""
    for suppression in suppressions:
        if suppression.holds_back(card_id, position, event_time):
            return suppression.suppression_id
    return None


def hold_back(suppressions: Sequence[Suppression], alerts: list[RaisedAlert],
              event_times: Mapping[str, datetime]) -> tuple[list[RaisedAlert], dict[str, str]]:
    """The alerts to raise, and those the suppressions hold back ({transaction id: suppression id}); each alert
    names its `transaction_id`, `card_id` and `position`."""
    if not suppressions:
        return alerts, {}
    raised, held = [], {}
    for alert in alerts:
        by = holding_back(suppressions, alert["card_id"], alert["position"], event_times[alert["transaction_id"]])
        if by is None:
            raised.append(alert)
        else:
            held[alert["transaction_id"]] = by
    return raised, held


def with_ends(started: Iterable[Suppression], ends: dict[str, int]) -> list[Suppression]:
    """The suppressions with the position of their first end, in the order they started."""
    return sorted((Suppression(s.suppression_id, s.card_id, s.position, s.until, s.reason, s.actor,
                               ends.get(s.suppression_id)) for s in started), key=lambda s: s.position)
