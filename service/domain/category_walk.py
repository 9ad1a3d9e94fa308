"""One card's categorical features (`fraudlog.domain.categorical`) for each of its events in O(log n).

The card walk (`fraudlog.domain.card_walk`) adds a card's events one at a time in position order and asks
about each event once exactly its possible history has been added. For one category this module keeps,
over the added events:

- per value, a Fenwick tree of which of that value's events are added, indexed by their rank in event-time
  order: `same_24h` is a range count in it.
- for each window length `w` (24 h, 1 h), how many values are present at each instant. An event at time
  `s` is in the window of a query at time `t` iff `t - w < s <= t`, i.e. iff `t` lies in `[s, s + w)`. So a
  value is in a query's window iff `t` lies in the union of `[s, s + w)` over that value's added events,
  and `distinct_w` at `t` is how many values' unions cover `t`. Adding an event at `s` grows its value's
  union by exactly one interval, `[max(s, p + w), min(s + w, n))` where `p` and `n` are the times of the
  value's added events just before and just after it in time order (everything earlier ends by `p + w`,
  everything later starts at or after `n`), so a range add on a difference Fenwick tree over the card's
  event times, and a query is one prefix sum.

Every feature is an integer count, so the result equals the plain definition exactly whatever the order of
operations. The events added before the walk's first query are loaded in one pass (O(n) after a sort), so a
batch whose targets follow a long history costs O(history + targets · log n).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from fraudlog.domain.categorical import feature_names
from fraudlog.domain.fenwick import Fenwick


class CategoryEvent(Protocol):
    @property
    def position(self) -> int: ...

    @property
    def attributes(self) -> Mapping[str, float | str]: ...


class CategoryWalk:
    """One category's values over one card's events, walked in position order."""

    def __init__(self, category: str, by_time: Sequence[CategoryEvent], times: list[int], *, window: int,
                 short_window: int) -> None:
        """`by_time`: the card's events sorted by (event time, position); `times`: their event times in
        microseconds, in the same order; `window`, `short_window`: the two window lengths in microseconds."""
        self.category = category
        self.names = feature_names(category)
        self._times = times
        self._widths = (window, short_window)
        value_times: dict[str, list[int]] = defaultdict(list)
        self._slot: dict[int, tuple[str, int]] = {}  # position -> (value, index among that value's events)
        for event, moment in zip(by_time, times, strict=True):
            value = event.attributes.get(category)
            if isinstance(value, str):
                self._slot[event.position] = (value, len(value_times[value]))
                value_times[value].append(moment)
        self._value_times = dict(value_times)
        self._present: dict[str, Fenwick] = {}
        self._added: dict[str, int] = {}
        self._cover: tuple[Fenwick, ...] = ()

    def value_of(self, position: int) -> str | None:
        slot = self._slot.get(position)
        return None if slot is None else slot[0]

    def load(self, positions: Iterable[int]) -> None:
        """Add the events at `positions` (each an event of the walk) before anything else was added, in one
        pass: the union of each value's intervals is merged after a sort rather than interval by interval."""
        added: dict[str, list[int]] = defaultdict(list)
        for position in positions:
            slot = self._slot.get(position)
            if slot is not None:
                added[slot[0]].append(slot[1])
        diffs = [[0] * (len(self._times) + 1) for _ in self._widths]
        for value, moments in self._value_times.items():
            indices = sorted(added.get(value, ()))
            flags = [0] * len(moments)
            for index in indices:
                flags[index] = 1
            self._present[value] = Fenwick(flags)
            self._added[value] = len(indices)
            for width, diff in zip(self._widths, diffs, strict=True):
                self._merge_into(diff, [moments[index] for index in indices], width)
        self._cover = tuple(Fenwick(diff[:-1]) for diff in diffs)

    def add(self, position: int) -> None:
        """Add one more event; it must not be added yet."""
        slot = self._slot.get(position)
        if slot is None:
            return
        value, index = slot
        moments, present = self._value_times[value], self._present[value]
        moment = moments[index]
        before = present.prefix(index)
        previous = moments[present.rank_of_kth(before) - 1] if before else None
        following = moments[present.rank_of_kth(before + 1) - 1] if self._added[value] > before else None
        present.add(index + 1, 1)
        self._added[value] += 1
        for width, cover in zip(self._widths, self._cover, strict=True):
            start = moment if previous is None else max(moment, previous + width)
            end = moment + width if following is None else min(moment + width, following)
            if start < end:
                self._range_add(cover, start, end)

    def features(self, value: str, moment: int) -> dict[str, float]:
        """The four features of an event with `value` at `moment` over the events added so far."""
        new, same_name, distinct, distinct_1h = self.names
        same = 0
        moments = self._value_times.get(value)
        if moments is not None:
            present = self._present[value]
            same = (present.prefix(bisect.bisect_right(moments, moment))
                    - present.prefix(bisect.bisect_right(moments, moment - self._widths[0])))
        at = bisect.bisect_left(self._times, moment) + 1
        long_cover, short_cover = self._cover
        return {new: 1.0 if same == 0 else 0.0, same_name: float(same), distinct: float(long_cover.prefix(at)),
                distinct_1h: float(short_cover.prefix(at))}

    def _merge_into(self, diff: list[int], moments: list[int], width: int) -> None:
        """Mark the union of `[s, s + width)` over `moments` (ascending) in the difference array `diff`."""
        times = self._times
        start = end = None
        for moment in moments:
            if end is not None and moment <= end:
                end = moment + width
                continue
            if start is not None and end is not None:
                diff[bisect.bisect_left(times, start)] += 1
                diff[bisect.bisect_left(times, end)] -= 1
            start, end = moment, moment + width
        if start is not None and end is not None:
            diff[bisect.bisect_left(times, start)] += 1
            diff[bisect.bisect_left(times, end)] -= 1

    def _range_add(self, cover: Fenwick, start: int, end: int) -> None:
        """+1 at every event time in `[start, end)`."""
        cover.add(bisect.bisect_left(self._times, start) + 1, 1)
        high = bisect.bisect_left(self._times, end) + 1
        if high <= cover.size:
            cover.add(high, -1)
