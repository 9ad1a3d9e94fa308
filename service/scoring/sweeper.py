"""The sweeper: find events that should have a champion prediction and do not, so they can be re-rung.

A doorbell can be lost (the broker was down, a message expired, a worker died before acking and the
broker forgot). The sweeper turns that loss into latency instead of data: it runs when a worker starts
and on a schedule, and asks for every transaction recorded more than a grace period ago that still has no
prediction from its champion.

Events whose champion's artifact is refused (`fraudlog.store.refusals`) are not re-rung while the champion serving
now is refused too: scoring them fails until an operator acts, so ringing them every sweep would only spin. They
are reported once and passed. Should the refusal be cleared, or a champion that verifies be promoted (it then
scores them: `Scorer._serve_refused_backlog`), the sweeper starts again from the beginning of the log.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from fraudlog.models.registry import ModelRegistry
from fraudlog.store.predictions import last_position_recorded_before, unscored_positions
from fraudlog.store.refusals import refusals

log = logging.getLogger("fraudlog.sweeper")

# How long an event may wait for its doorbell before the sweeper re-rings it, unless the deployment says
# otherwise (Settings.sweep_grace, passed in by whoever builds the sweeper).
DEFAULT_GRACE = timedelta(seconds=5)


class Sweeper:
    """Finds unscored events, scanning only above a low watermark it keeps in memory.

    Below the watermark every event was scored when it was last looked at, and a prediction is never
    removed, so only new positions need looking at: a sweep of a large log costs one full scan per process
    start, then a scan of what arrived since.
    """

    def __init__(self, engine: Engine, registry: ModelRegistry, grace: timedelta = DEFAULT_GRACE) -> None:
        """`grace`: how long after it was recorded an event may still be waiting for its doorbell."""
        self.engine = engine
        self.registry = registry
        self.grace = grace
        self.watermark = 0
        self._refused: set[int] = set()
        self._stranded: set[int] = set()  # refused champions whose events are passed: no servable champion serves

    def find_unscored(self, *, limit: int = 100_000, now: datetime | None = None,
                      grace: timedelta | None = None) -> list[int]:
        """Positions of scorable transaction events without a champion prediction, oldest first."""
        table = self.registry.assignments(through=None)
        first = table.first_champion_position
        if first is None:
            return []
        refused = self._refused_versions()
        # A refused champion's events are scored by the champion serving now, unless it is refused too (`Scorer`).
        stranded = refused if table.current().champion in refused or table.current().champion is None else set()
        if self._stranded and not stranded:  # a servable champion now serves: the events passed are scorable
            self.watermark = 0
        self._stranded = stranded
        cutoff = (now or datetime.now(UTC)) - (self.grace if grace is None else grace)
        scanned_through = last_position_recorded_before(self.engine, cutoff, after=self.watermark)
        found = unscored_positions(self.engine, after=self.watermark, first_scorable=first + 1,
                                   recorded_before=cutoff, limit=limit)
        positions = [p for p in found if table.assignment_at(p).champion not in stranded]
        if len(positions) < len(found):
            waiting = sorted(v for v in refused if any(table.assignment_at(p).champion == v for p in found))
            log.warning("sweep passed %d unscored events whose champion (model version %s) has a refused artifact; "
                        "not re-ringing them", len(found) - len(positions), ", ".join(map(str, waiting)))
        if positions:
            log.info("sweep found %d unscored events from position %d", len(positions), positions[0])
            self.watermark = max(self.watermark, positions[0] - 1)
        elif len(found) >= limit:
            self.watermark = max(self.watermark, found[-1])
        elif scanned_through is not None:
            self.watermark = max(self.watermark, scanned_through)
        return positions

    def _refused_versions(self) -> set[int]:
        with self.engine.connect() as conn:
            refused = set(refusals(conn))
        if self._refused - refused:  # a refusal was cleared: the events passed for it are scorable again
            self.watermark = 0
        self._refused = refused
        return refused
