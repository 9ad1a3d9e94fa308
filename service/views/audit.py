"""The auditor's view of a transaction's predictions: each one's lineage, and whether replay reproduces it.

Composed from replay's recomputation (`fraudlog.replay.audit.reproduce`) and the records the transaction view
has already read (the event and its stored predictions), so neither is read twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fraudlog.domain.records import LineageSummary
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay.audit import lineage_summary, reproduce
from fraudlog.store.event_log import EventRecord
from fraudlog.store.predictions import PredictionRecord
from fraudlog.store.versions import UnknownVersion


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
        return lineage_summary(registry, version)
    except UnknownVersion:  # a prediction naming a version that was never registered: nothing to show
        return None
