"""One card's history summarised for each of its events in O(log n), by a single walk in log order.

`service.domain.features` defines an event's history as the card's events with a smaller position whose event
time lies in `(t - window, t]`. Summing that list afresh for every event costs O(n) per event, so a batch of
one busy card cost O(n²). The walk instead adds the card's events one at a time in position order; when it
reaches an event, exactly that event's possible history has been added, and what remains is a range
query by event time. Two Fenwick trees indexed by rank in event-time order answer it: one counts events,
one sums amounts. Amounts are summed as exact integers (every finite float is an integer multiple of
2**-1074), so the range sum rounded once equals `math.fsum` of the same amounts bit for bit.

To add a card feature, add its aggregate here (another tree, or a structure updated in `_add`) and read it
in `window_before`; `features._summarise` is the plain definition it must agree with.
"""

from __future__ import annotations

import bisect
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.domain.features import TxView

# 2**-1074 is the smallest subnormal: every finite double is an integer multiple of it.
_SCALE_BITS = 1074
_SCALE = 1 << _SCALE_BITS


@dataclass(frozen=True, slots=True)
class CardWindow:
    """The summary of one event's history that card features are computed from."""

    count_24h: int
    count_1h: int
    amount_sum: float  # exactly rounded, saturating at the largest finite float
    latest: datetime | None  # the latest event time in the history; None without history


def exact_units(amount: float) -> int:
    """`amount` as an exact integer count of 2**-1074."""
    numerator, denominator = amount.as_integer_ratio()
    return numerator << (_SCALE_BITS - denominator.bit_length() + 1)


def rounded_sum(units: int) -> float:
    """An exact sum in units of 2**-1074, rounded once to the nearest float (ties to even, like `math.fsum`)."""
    try:
        return units / _SCALE  # int / int is correctly rounded in CPython
    except OverflowError:
        return sys.float_info.max


class _Fenwick:
    """Prefix sums over ranks 1..n with O(log n) update and query."""

    __slots__ = ("size", "tree")

    def __init__(self, size: int) -> None:
        self.size = size
        self.tree = [0] * (size + 1)

    def add(self, rank: int, value: int) -> None:
        while rank <= self.size:
            self.tree[rank] += value
            rank += rank & -rank

    def prefix(self, rank: int) -> int:
        """The sum over ranks 1..rank."""
        total = 0
        while rank > 0:
            total += self.tree[rank]
            rank -= rank & -rank
        return total

    def rank_of_kth(self, k: int) -> int:
        """The smallest rank whose prefix reaches k (values must be non-negative counts, k >= 1)."""
        rank = 0
        step = 1 << self.size.bit_length()
        while step:
            if rank + step <= self.size and self.tree[rank + step] < k:
                rank += step
                k -= self.tree[rank]
            step >>= 1
        return rank + 1


class CardWalk:
    """The events of one card (distinct positions), summarised for each in increasing position order."""

    def __init__(self, events: Iterable[TxView], *, window: timedelta, short_window: timedelta) -> None:
        by_time = sorted(events, key=lambda e: (e.event_time, e.position))
        self._by_time = by_time
        self._window = window
        self._short_window = short_window
        self._times = [e.event_time for e in by_time]
        self._rank = {e.position: rank for rank, e in enumerate(by_time, start=1)}
        self._to_add = sorted(by_time, key=lambda e: e.position)
        self._added = 0
        self._counts = _Fenwick(len(by_time))
        self._amounts = _Fenwick(len(by_time))

    def window_before(self, tx: TxView) -> CardWindow:
        """The summary of `tx`'s history. Calls must come in non-decreasing position order."""
        while self._added < len(self._to_add) and self._to_add[self._added].position < tx.position:
            self._add(self._to_add[self._added])
            self._added += 1
        start = bisect.bisect_right(self._times, tx.event_time - self._window)
        short_start = bisect.bisect_right(self._times, tx.event_time - self._short_window)
        end = bisect.bisect_right(self._times, tx.event_time)
        through_end = self._counts.prefix(end)
        count = through_end - self._counts.prefix(start)
        if count == 0:
            return CardWindow(0, 0, 0.0, None)
        return CardWindow(
            count_24h=count,
            count_1h=through_end - self._counts.prefix(short_start),
            amount_sum=rounded_sum(self._amounts.prefix(end) - self._amounts.prefix(start)),
            latest=self._times[self._counts.rank_of_kth(through_end) - 1],
        )

    def events_before(self, tx: TxView) -> list[TxView]:
        """`tx`'s history as a list, for the categorical features (`service.domain.categorical`), which need the
        values themselves. O(events in the card's window), so it is called only for a transaction that has a
        value in some configured category."""
        start = bisect.bisect_right(self._times, tx.event_time - self._window)
        end = bisect.bisect_right(self._times, tx.event_time)
        return [e for e in self._by_time[start:end] if e.position < tx.position]

    def _add(self, event: TxView) -> None:
        rank = self._rank[event.position]
        self._counts.add(rank, 1)
        self._amounts.add(rank, exact_units(event.amount))
