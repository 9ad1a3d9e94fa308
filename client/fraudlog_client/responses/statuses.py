"""The status vocabularies that response bodies carry, as types: OpenAPI lists each one's values.

Each is spelled exactly as the store and the domain spell it (`fraudlog.domain.assignment`,
`fraudlog.store.outbox`, `fraudlog.store.event_log`), so typing a body changes none of its bytes.
"""

from __future__ import annotations

from typing import Literal

ModelStatus = Literal["champion", "challenger", "retired"]
"""A model version's role: the champion alerts, challengers score in its shadow, retired versions rest."""

RoleChange = Literal["champion", "retired"]
"""What an operator can make a version: promote it to champion, or retire it."""

AlertStatus = Literal["pending", "sent", "failed"]
"""Where an alert's delivery stands in the outbox."""

IngestStatus = Literal["accepted", "duplicate", "correction"]
"""What appending an event did: recorded it, found it already recorded, or recorded a changed verdict."""

ReviewOrder = Literal["newest", "score"]
"""How the review queue is ordered: newest alert first, or highest score first."""
