"""Features for a walk of the log in position order, with the history held in memory as the walk goes.

Asking the database for each chunk's history re-reads every event of the chunk's cards in the window, and
with only a (card, position) index the query scans each card's whole past: a replay would slow down as the
log grows. A walk has already seen every earlier event of its range, so it keeps the recent ones (a rolling
window of event time, a light copy each) and asks the database only for what it cannot have seen: history
from before the walk's first position, and the window of an event that arrived more than `SLACK` later than
newer events already walked. Either way `batch_features` gets a superset of each event's history and picks
the history itself, so the features are the scorer's, bit for bit (invariant 3): both read history with
the store's one query (`fetch_history`).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from fraudlog.domain.features import WINDOW, FeatureValues, TxView, batch_features, history_query
from fraudlog.store.history import fetch_history, latest_event_time_before

# How much later than the newest walked event time an event may arrive and still find its window in memory.
SLACK = timedelta(hours=1)


def features_of(conn: Connection, targets: Sequence[TxView], categories: Sequence[str] = (),
                ) -> dict[int, FeatureValues]:
    """Features of a run of consecutive transactions, with one history query: for a look at a few events."""
    query = history_query(targets)
    history = fetch_history(conn, query, before=targets[0].position, categories=categories) if query else ()
    return batch_features(targets, history, categories)


class RollingHistory:
    """Walked transactions whose event time may still fall in a later event's window.

    Invariant: every walked transaction with event time > `low` is held (None: none was ever dropped).
    """

    def __init__(self, slack: timedelta = SLACK) -> None:
        self.slack = slack
        self.low: datetime | None = None
        self._by_card: dict[str, dict[int, TxView]] = defaultdict(dict)
        self._expiry: list[tuple[datetime, int, str]] = []  # a heap of (event time, position, card)
        self._newest: datetime | None = None

    def __len__(self) -> int:
        return len(self._expiry)

    def holds_window_of(self, tx: TxView) -> bool:
        return self.low is None or tx.event_time - WINDOW >= self.low

    def of_cards(self, cards: set[str]) -> list[TxView]:
        return [view for card in cards for view in self._by_card.get(card, {}).values()]

    def add(self, walked: Sequence[TxView]) -> None:
        for tx in walked:
            if tx.card_id is None:
                continue
            # Card features read only the card, time, amount and text attributes of history: drop the numbers.
            texts: dict[str, float | str] = {k: v for k, v in tx.attributes.items() if isinstance(v, str)}
            self._by_card[tx.card_id][tx.position] = TxView(tx.position, tx.transaction_id, tx.card_id,
                                                            tx.event_time, tx.amount, texts)
            heapq.heappush(self._expiry, (tx.event_time, tx.position, tx.card_id))
            self._newest = tx.event_time if self._newest is None else max(self._newest, tx.event_time)
        self._drop_old()

    def _drop_old(self) -> None:
        if self._newest is None:
            return
        low = self._newest - WINDOW - self.slack
        while self._expiry and self._expiry[0][0] <= low:
            _, position, card = heapq.heappop(self._expiry)
            held = self._by_card[card]
            del held[position]
            if not held:
                del self._by_card[card]
        if self.low is None or low > self.low:
            self.low = low


class FeatureWalk:
    """Features of consecutive runs of transactions, walked in position order from `start`."""

    def __init__(self, conn: Connection, start: int) -> None:
        self.rolling = RollingHistory()
        # The latest event time before the walk: an event whose window starts after it has no history there.
        self.before_start = latest_event_time_before(conn, start)
        self.queried = 0  # targets whose history needed the database

    def features(self, conn: Connection, targets: Sequence[TxView], categories: Sequence[str] = (),
                 ) -> dict[int, FeatureValues]:
        """Features of `targets`, every transaction between the first and the last, in position order, with
        the per-card features of `categories`."""
        carded = [tx for tx in targets if tx.card_id is not None]
        candidates = self.rolling.of_cards({tx.card_id for tx in carded if tx.card_id is not None})
        unseen = [tx for tx in carded if not self._seen_window_of(tx)]
        query = history_query(unseen)
        if query is not None:
            self.queried += len(unseen)
            candidates += fetch_history(conn, query, before=targets[0].position, categories=categories)
        result = batch_features(targets, candidates, categories)
        self.rolling.add(targets)
        return result

    def _seen_window_of(self, tx: TxView) -> bool:
        before = self.before_start
        return self.rolling.holds_window_of(tx) and (before is None or before <= tx.event_time - WINDOW)
