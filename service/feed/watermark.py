"""The feed's watermark: the highest position W under which every position is final.

Predictions commit out of log order (workers score batches in parallel; the sweeper re-rings old
positions), so a reader that followed the highest committed prediction would pass over one that commits
late at a lower position. The feed delivers only positions <= W, where W is the largest position such that
every transaction at or below it either has its champion prediction or was served by no champion (before
the first promotion, or after a champion was retired with none promoted in its place): neither can gain a
champion prediction later, so nothing will ever appear below W (invariant 11, docs/INVARIANTS.md).
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from fraudlog.models.registry import ModelRegistry
from fraudlog.store.feed import log_frontier


class FeedWatermark:
    """Advances W incrementally: each call scans only from the previous W to the first open position.

    W never moves back (predictions are never deleted), so keeping it in memory is safe; a process that
    starts again begins at 0 and pays one scan of the log, as the sweeper does.
    """

    def __init__(self, engine: Engine, registry: ModelRegistry, start: int = 0) -> None:
        self.engine = engine
        self.registry = registry
        self.value = start

    def advance(self) -> int:
        """Read the log once (more only to step over positions no champion served) and return the new W."""
        after = self.value
        with self.engine.connect() as conn:
            while True:
                frontier = log_frontier(conn, after)
                if frontier.first_open is None:
                    after = max(after, frontier.last)
                    break
                table = self.registry.assignments(through=frontier.last)
                if table.assignment_at(frontier.first_open).champion is not None:
                    after = frontier.first_open - 1  # waits for its champion prediction
                    break
                served_again = table.next_champion_change(frontier.first_open)
                if served_again is None:  # no champion from there to the end of what the table knows
                    after = max(after, min(frontier.last, table.known_through))
                    break
                after = served_again
        self.value = max(self.value, after)
        return self.value
