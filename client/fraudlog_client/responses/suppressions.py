"""`/v1/cards/{card_id}/suppressions`: a card's suppressions."""

from __future__ import annotations

import msgspec


class SuppressionView(msgspec.Struct, kw_only=True):
    """A suppression: the card's transactions after `position` in the log with an event time before `until`
    raise no customer alert, unless it was ended (`ended_at`: the position of its end)."""

    suppression_id: str
    card_id: str
    until: str
    reason: str
    actor: str
    position: int
    ended_at: int | None
    status: str  # "recorded" | "duplicate" (this request), or "listed"


class SuppressionList(msgspec.Struct, kw_only=True):
    items: list[SuppressionView]
