"""What a client sends: a transaction and a label as request bodies (TypedDicts), and the one spelling of a time.

The server decodes these bodies into its own validating Structs (`fraudlog.domain.events.TransactionIn`,
`LabelIn`) and imports the TypedDicts from here, so the two sides name the same fields.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NotRequired, TypedDict


class TransactionBody(TypedDict):
    """A transaction as a client sends it (`TransactionIn` decodes it): JSON, or MessagePack with a datetime."""

    transaction_id: str
    card_id: NotRequired[str | None]
    event_time: str | datetime
    amount: float
    attributes: NotRequired[dict[str, float | str]]  # open: whatever a client's transactions carry


# A transaction as a client sends it and whether it is a fraud: how history and streams travel (the data sets,
# `fraudlog demo`, a first version's import, the client's `stream`).
LabelledTransaction = tuple[TransactionBody, bool]


class LabelBody(TypedDict):
    """A label as a client sends it (`LabelIn` decodes it)."""

    transaction_id: str
    is_fraud: bool
    labeled_at: NotRequired[str | datetime]
    source: NotRequired[str]


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds: one spelling per instant."""
    # isoformat, not strftime("%Y"): strftime does not zero-pad years before 1000.
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
