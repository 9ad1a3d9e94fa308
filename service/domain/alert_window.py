"""Which customer alert a transaction over the threshold joins: one alert per card per window of event time.

A burst of suspicious payments on one card is the normal shape of fraud, and the customer should hear of it
once, not once per payment. So the alerting transactions of a card are grouped by the window of EVENT time
they fall in: windows of `length` aligned on the Unix epoch, each window of each card one alert.

Why fixed windows and not a window anchored at the card's first alerting transaction: the anchor depends on
which transactions have alerted before, so two workers scoring a card's burst in different orders (or a late
event scored after a later one) could disagree on it. A fixed window depends on the transaction alone, so its
alert is the same on every worker, in every order, on every retry, in replay and in a rebuild (invariant 22,
docs/INVARIANTS.md); the outbox's primary key on the alert id decides which worker opens it. The price: a
burst that straddles a window's edge makes two alerts, so a card gets at most two alerts in any span of one
window's length, and at most one in each window.

Pure: no I/O and no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# 15 minutes: a card-testing or account-takeover burst lasts seconds to a few minutes, so it fits in one
# window; and a customer told "was this you?" answers within minutes, so a payment a quarter of an hour later
# deserves to be asked about again rather than buried in an update.
DEFAULT_COALESCE_WINDOW = timedelta(minutes=15)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class AlertWindow:
    """The coalescing rule: `length` of event time per alert per card; zero gives every transaction its own."""

    length: timedelta = DEFAULT_COALESCE_WINDOW

    def start(self, event_time: datetime) -> datetime:
        """The start of the window holding `event_time` (windows are aligned on the Unix epoch, in UTC)."""
        moment = event_time if event_time.tzinfo is not None else event_time.replace(tzinfo=UTC)
        return _EPOCH + ((moment - _EPOCH) // self.length) * self.length

    def alert_key(self, *, transaction_id: str, card_id: str | None, event_time: datetime | None) -> str:
        """What names the alert a transaction joins: its card and window, or the transaction itself when it has
        no card or no event time, or coalescing is off (the key every alert had before coalescing)."""
        if card_id is None or event_time is None or self.length <= timedelta(0):
            return transaction_id
        start = self.start(event_time).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return f"card:{card_id}:window:{start}"


DEFAULT_ALERT_WINDOW = AlertWindow()
