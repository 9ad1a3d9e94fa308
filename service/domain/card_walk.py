"""One card's history summarised for each of its events in O(log n), by a single walk in log order.

`fraudlog.domain.features` defines an event's history as the card's events with a smaller position whose event
time lies in `(t - window, t]`. Summing that list afresh for every event costs O(n) per event, so a batch of
one busy card cost O(n²). The walk instead adds the card's events one at a time in position order; when it
reaches an event, exactly that event's possible history has been added, and what remains is a range
query by event time. Two Fenwick trees indexed by rank in event-time order answer it: one counts events,
one sums amounts. Amounts are summed as exact integers (every finite float is an integer multiple of
2**-1074), so the range sum rounded once equals `math.fsum` of the same amounts bit for bit.

The categorical features are walked the same way, one `fraudlog.domain.category_walk.CategoryWalk` per
category. What precedes the walk's first query (usually the whole fetched history) is loaded in one O(n) pass.
How and what it costs: docs/features.md.

To add a card feature, add its aggregate here (another tree, or a structure updated in `_advance_to`) and read
it in `window_before`; `features._summarise` is the plain definition it must agree with.
"""

from __future__ import annotations

import bisect
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from fraudlog.domain.categorical import category_value
from fraudlog.domain.category_walk import CategoryWalk
from fraudlog.domain.fenwick import Fenwick

# 2**-1074 is the smallest subnormal: every finite double is an integer multiple of it.
_SCALE_BITS = 1074
_SCALE = 1 << _SCALE_BITS
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


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


class CardEvent(Protocol):
    """What the walk reads of an event (`fraudlog.domain.features.TxView` is one)."""

    @property
    def position(self) -> int: ...

    @property
    def event_time(self) -> datetime: ...

    @property
    def amount(self) -> float: ...

    @property
    def attributes(self) -> Mapping[str, float | str]: ...


class CardWalk:
    """The events of one card (distinct positions), summarised for each in increasing position order."""

    def __init__(self, events: Iterable[CardEvent], *, window: timedelta, short_window: timedelta,
                 categories: Sequence[str] = ()) -> None:
        by_time = sorted(events, key=lambda e: (e.event_time, e.position))
        self._by_time = by_time
        self._window = window
        self._short_window = short_window
        self._times = [e.event_time for e in by_time]
        self._rank = {e.position: rank for rank, e in enumerate(by_time, start=1)}
        self._to_add = sorted(by_time, key=lambda e: e.position)
        self._added = 0
        self._counts: Fenwick | None = None  # built by the first query, from what precedes it
        self._amounts = Fenwick(())
        micros = [micros_of(moment) for moment in self._times] if categories else []
        self._categories = tuple(
            CategoryWalk(category, by_time, micros, window=window // _MICROSECOND,
                         short_window=short_window // _MICROSECOND)
            for category in categories)

    def window_before(self, tx: CardEvent) -> CardWindow:
        """The summary of `tx`'s history. Calls must come in non-decreasing position order."""
        counts = self._advance_to(tx)
        start = bisect.bisect_right(self._times, tx.event_time - self._window)
        short_start = bisect.bisect_right(self._times, tx.event_time - self._short_window)
        end = bisect.bisect_right(self._times, tx.event_time)
        through_end = counts.prefix(end)
        count = through_end - counts.prefix(start)
        if count == 0:
            return CardWindow(0, 0, 0.0, None)
        return CardWindow(
            count_24h=count,
            count_1h=through_end - counts.prefix(short_start),
            amount_sum=rounded_sum(self._amounts.prefix(end) - self._amounts.prefix(start)),
            latest=self._times[counts.rank_of_kth(through_end) - 1],
        )

    def category_features(self, tx: CardEvent) -> dict[str, float]:
        """`fraudlog.domain.categorical.categorical_card_features` of `tx` over its history, for the walk's
        categories, in their order. Calls must come in non-decreasing position order."""
        self._advance_to(tx)
        features: dict[str, float] = {}
        moment = micros_of(tx.event_time)
        for walk in self._categories:
            value = category_value(tx, walk.category)
            if value is not None:
                features |= walk.features(value, moment)
        return features

    def _advance_to(self, tx: CardEvent) -> Fenwick:
        """Add every event before `tx`'s position that is not added yet."""
        to_add = self._to_add
        if self._counts is None:
            # What precedes the first query (usually the whole fetched history) is loaded in one O(n) pass.
            loaded = 0
            while loaded < len(to_add) and to_add[loaded].position < tx.position:
                loaded += 1
            flags = [0] * len(to_add)
            units = [0] * len(to_add)
            for event in to_add[:loaded]:
                rank = self._rank[event.position]
                flags[rank - 1] = 1
                units[rank - 1] = exact_units(event.amount)
            self._counts, self._amounts = Fenwick(flags), Fenwick(units)
            for walk in self._categories:
                walk.load(event.position for event in to_add[:loaded])
            self._added = loaded
        counts = self._counts
        while self._added < len(to_add) and to_add[self._added].position < tx.position:
            event = to_add[self._added]
            rank = self._rank[event.position]
            counts.add(rank, 1)
            self._amounts.add(rank, exact_units(event.amount))
            for walk in self._categories:
                walk.add(event.position)
            self._added += 1
        return counts


def micros_of(moment: datetime) -> int:
    """An aware instant as whole microseconds since the Unix epoch: exact, and free of datetime's range limits
    when a window is added to it."""
    return (moment - _EPOCH) // _MICROSECOND
