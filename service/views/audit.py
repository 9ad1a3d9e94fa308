"""The auditor's view of a transaction's predictions: each one's lineage, and whether replay reproduces it.

Composed from replay's recomputation (`service.replay.audit.reproduce`) and the records the transaction view
has already read (the event and its stored predictions), so neither is read twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from service.replay.audit import lineage_summary, reproduce
from service.store.event_log import EventRecord
from service.store.predictions import PredictionRecord
from service.store.registry import ModelRegistry, UnknownVersion


class TrainingRange(msgspec.Struct, kw_only=True):
    """Which part of the log (or which file) a version learned from."""

    source: str | None
    first_position: int | None
    last_position: int | None


class LineageSummary(msgspec.Struct, kw_only=True):
    """Enough of a version's lineage to say what produced a score; `GET /v1/models/{v}` has the rest."""

    version: int
    parent_version: int | None
    model_spec: str | None
    training_range: TrainingRange
    artifact_sha256: str
    created_at: str


@dataclass(frozen=True)
class PredictionAudit:
    """A stored prediction's lineage (None: its version was never registered) and the fields replay could
    not reproduce (empty: bit for bit), or `unexpected` / `artifact`."""

    lineage: LineageSummary | None
    differences: list[str]


def audit_predictions(registry: ModelRegistry, event: EventRecord, stored: Sequence[PredictionRecord],
                      ) -> dict[int, PredictionAudit]:
    """The audit of each stored prediction of the transaction `event`, by model version."""
    verdicts = reproduce(registry, event, stored)
    return {p.model_version: PredictionAudit(_lineage(registry, p.model_version), verdicts[p.model_version])
            for p in stored}


def _lineage(registry: ModelRegistry, version: int) -> LineageSummary | None:
    try:
        summary: dict[str, Any] = lineage_summary(registry, version)
    except UnknownVersion:  # a prediction naming a version that was never registered: nothing to show
        return None
    return msgspec.convert(summary, LineageSummary)
