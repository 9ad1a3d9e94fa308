"""A Fenwick (binary indexed) tree: prefix sums over ranks 1..n with O(log n) update and query, built in O(n).

The card walks (`fraudlog.domain.card_walk`, `fraudlog.domain.category_walk`) keep their running aggregates in
these, indexed by an event's rank in event-time order.
"""

from __future__ import annotations

from collections.abc import Sequence


class Fenwick:
    __slots__ = ("size", "tree")

    def __init__(self, values: Sequence[int]) -> None:
        """A tree whose rank `i` (1-based) holds `values[i - 1]`, built in one O(n) pass."""
        size = len(values)
        tree = [0, *values]
        for rank in range(1, size + 1):
            parent = rank + (rank & -rank)
            if parent <= size:
                tree[parent] += tree[rank]
        self.size = size
        self.tree = tree

    def add(self, rank: int, value: int) -> None:
        tree, size = self.tree, self.size
        while rank <= size:
            tree[rank] += value
            rank += rank & -rank

    def prefix(self, rank: int) -> int:
        """The sum over ranks 1..rank."""
        tree = self.tree
        total = 0
        while rank > 0:
            total += tree[rank]
            rank -= rank & -rank
        return total

    def rank_of_kth(self, k: int) -> int:
        """The smallest rank whose prefix reaches k (values must be non-negative counts, k >= 1)."""
        tree, size = self.tree, self.size
        rank = 0
        step = 1 << size.bit_length()
        while step:
            if rank + step <= size and tree[rank + step] < k:
                rank += step
                k -= tree[rank]
            step >>= 1
        return rank + 1
