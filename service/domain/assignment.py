"""Which model versions score an event: a pure function of the log's control events.

A promotion event names a version and a role. The champion for an event at position p is the version of
the latest champion promotion before p; challengers are the versions whose latest role event before p
made them challengers and that were not retired or promoted to champion since. Because this reads only
the log, which version scored which event never depends on when a worker noticed a promotion: a hot swap
never changes the answer.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from fraudlog.domain.records import Decision

CHAMPION = "champion"
CHALLENGER = "challenger"
RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class RoleChange:
    """One control event: at `position`, `version` took `role` (champion, challenger or retired)."""

    position: int
    version: int
    role: str
    # Why: the promotion policy's decision and its evidence, or an operator's (None in older logs).
    decision: Decision | None = None


def role_change(position: int, payload: Mapping[str, Any]) -> RoleChange:
    """A promotion or retirement event's payload as a `RoleChange`.

    A payload without a role reads as a retirement. Every reader of control events (the registry, replay,
    rebuild) parses them here, so they can never disagree on who scored what.
    """
    decision = payload.get("decision")
    return RoleChange(position, int(str(payload["model_version"])), str(payload.get("role", RETIRED)),
                      msgspec.convert(decision, Decision) if isinstance(decision, Mapping) else None)


@dataclass(frozen=True, slots=True)
class Assignment:
    champion: int | None
    challengers: tuple[int, ...]

    @property
    def versions(self) -> tuple[int, ...]:
        return ((self.champion,) if self.champion is not None else ()) + self.challengers


class AssignmentTable:
    """Answers `assignment_at(position)` from the role changes seen up to `known_through`."""

    def __init__(self, changes: Iterable[RoleChange] = (), known_through: int = 0) -> None:
        self._changes: list[RoleChange] = []
        self._positions: list[int] = []
        self._snapshots: list[Assignment] = []
        self.known_through = 0
        self.extend(changes, known_through)

    def extend(self, changes: Iterable[RoleChange], known_through: int) -> None:
        """Add role changes read from the log, all at positions after those already known."""
        for change in sorted(changes, key=lambda c: c.position):
            if self._positions and change.position <= self._positions[-1]:
                continue  # already known: a re-read of the same range
            previous = self._snapshots[-1] if self._snapshots else Assignment(None, ())
            self._changes.append(change)
            self._positions.append(change.position)
            self._snapshots.append(_apply(previous, change))
        self.known_through = max(self.known_through, known_through)

    def covers(self, position: int) -> bool:
        """True when every control event that could precede `position` has been read."""
        return position <= self.known_through + 1

    def assignment_at(self, position: int) -> Assignment:
        index = bisect.bisect_left(self._positions, position) - 1
        return self._snapshots[index] if index >= 0 else Assignment(None, ())

    def next_champion_change(self, position: int) -> int | None:
        """The first role change at or after `position` that leaves a champion serving (None if none is known).

        Events between an unserved `position` and that change have no champion: nothing will score them.
        """
        index = bisect.bisect_left(self._positions, position)
        return next((self._positions[i] for i in range(index, len(self._positions))
                     if self._snapshots[i].champion is not None), None)

    @property
    def first_champion_position(self) -> int | None:
        return next((c.position for c in self._changes if c.role == CHAMPION), None)

    def changes_of(self, version: int) -> list[RoleChange]:
        """Every role event of `version`, oldest first."""
        return [c for c in self._changes if c.version == version]

    def last_decision(self, version: int) -> Decision | None:
        """The decision recorded with the newest role event of `version` that carries one."""
        return next((c.decision for c in reversed(self._changes) if c.version == version and c.decision), None)

    def current(self) -> Assignment:
        return self._snapshots[-1] if self._snapshots else Assignment(None, ())

    def status_of(self, version: int) -> str | None:
        """The version's role as of the newest known control event, or None if never named."""
        current = self.current()
        if current.champion == version:
            return CHAMPION
        if version in current.challengers:
            return CHALLENGER
        return RETIRED if any(c.version == version for c in self._changes) else None


def _apply(previous: Assignment, change: RoleChange) -> Assignment:
    challengers = [v for v in previous.challengers if v != change.version]
    champion = previous.champion
    if change.role == CHAMPION:
        champion = change.version
    elif change.role == CHALLENGER:
        if champion == change.version:
            champion = None
        challengers.append(change.version)
    elif champion == change.version:  # retiring the champion leaves no champion until the next promotion
        champion = None
    return Assignment(champion, tuple(sorted(challengers)))
