"""Suppressing a card's customer alerts, and ending that early (docs/outcomes.md, "Suppression"): each change is
an event in the log, made here from what a person asked; the scorer reads them (`fraudlog.store.suppressions`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from fraudlog.domain.events import SuppressionAdded, SuppressionEnded, SuppressionIn, format_time
from fraudlog.domain.suppressions import Suppression, suppression_id_for
from fraudlog.store.suppressions import UnknownSuppression, append_suppression, card_suppressions, end_suppression

__all__ = ["Change", "UnknownSuppression", "end", "of_card", "suppress"]


@dataclass(frozen=True)
class Change:
    suppression: Suppression
    duplicate: bool  # the log held this change already (a retried request)


def suppress(engine: Engine, card_id: str, request: SuppressionIn, actor: str) -> Change:
    """Hold back `card_id`'s customer alerts until `request.until` (event time), from now on in the log."""
    until = format_time(request.until)
    added = SuppressionAdded(suppression_id=suppression_id_for(card_id, until, request.reason, actor),
                             card_id=card_id, until=until, reason=request.reason, actor=actor)
    receipt = append_suppression(engine, added)
    return Change(_one(engine, card_id, added.suppression_id), receipt.status == "duplicate")


def end(engine: Engine, card_id: str, suppression_id: str, actor: str) -> Change:
    """End a suppression of `card_id` now; raises `UnknownSuppression` when the card has none with this id."""
    receipt = end_suppression(engine, SuppressionEnded(suppression_id=suppression_id, card_id=card_id, actor=actor))
    return Change(_one(engine, card_id, suppression_id), receipt.status == "duplicate")


def of_card(engine: Engine, card_id: str) -> list[Suppression]:
    return card_suppressions(engine, card_id)


def _one(engine: Engine, card_id: str, suppression_id: str) -> Suppression:
    return next(s for s in card_suppressions(engine, card_id) if s.suppression_id == suppression_id)
