"""Giving a model version a role: the use case behind promote, retire, and a new version's entry.

A role is an event in the log (`fraudlog.domain.events.role_event`), never a column, so which version scored
what stays a pure function of the log. Before writing anything the version must exist, and a champion's
artifact must verify: a version that cannot score must not be made the one that scores everything.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fraudlog.domain.assignment import CHAMPION
from fraudlog.domain.events import role_event
from fraudlog.domain.records import Decision
from fraudlog.models.registry import ModelRegistry
from fraudlog.store.event_log import EventLog


def assign_role(registry: ModelRegistry, version: int, role: str, decision: Decision | None = None) -> int:
    """Append a promotion (champion/challenger) or retirement event for `version`, with the decision that
    made it; returns its log position. Raises `UnknownVersion`, or `ArtifactRejected` for a champion whose
    artifact does not verify."""
    registry.versions.get(version)
    if role == CHAMPION:
        registry.models.load(version)
    now = datetime.now(UTC)
    return EventLog(registry.engine).append_control(role_event(version, role, decision, now), now)
