"""The auditor's view of a transaction's predictions: each one's lineage, and whether replay reproduces it.

Composed from replay's pure recomputation and the records the transaction view has already read (the event
and its stored predictions), so neither is read twice. The recomputation itself asks a read-only snapshot
for the assignment and the history as of the event's position only, as `service.replay.audit` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from service.domain.features import TxView
from service.ml.artifact import ArtifactRejected
from service.replay.audit import ARTIFACT, UNEXPECTED, lineage_summary
from service.replay.compare import field_differences
from service.replay.history import features_of
from service.replay.reader import StoredPrediction, assignment_table, read_only_snapshot
from service.replay.recompute import score_with, scoring_versions
from service.store.event_log import EventRecord
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


def audit_predictions(registry: ModelRegistry, event: EventRecord, stored: Sequence[StoredPrediction],
                      ) -> dict[int, PredictionAudit]:
    """The audit of each stored prediction of the transaction `event`, by model version."""
    verdicts = reproduce(registry, event, stored)
    return {p.model_version: PredictionAudit(_lineage(registry, p.model_version), verdicts[p.model_version])
            for p in stored}


def reproduce(registry: ModelRegistry, event: EventRecord, stored: Sequence[StoredPrediction],
              ) -> dict[int, list[str]]:
    """Recompute each stored prediction from the log, reading only, on one snapshot."""
    tx = TxView.from_payload(event.position, event.payload)
    with read_only_snapshot(registry.engine) as conn:
        assignment = assignment_table(conn, tx.position).assignment_at(tx.position)
        features = features_of(conn, [tx])[tx.position]
    verdicts: dict[int, list[str]] = {}
    for prediction in stored:
        version = prediction.model_version
        if version not in scoring_versions(assignment):
            verdicts[version] = [UNEXPECTED]
            continue
        try:
            replayed = score_with(registry, version, tx, features, champion=version == assignment.champion)
        except (ArtifactRejected, UnknownVersion):
            verdicts[version] = [ARTIFACT]
            continue
        verdicts[version] = sorted(field_differences(prediction, replayed))
    return verdicts


def _lineage(registry: ModelRegistry, version: int) -> LineageSummary | None:
    try:
        summary: dict[str, Any] = lineage_summary(registry, version)
    except UnknownVersion:  # a prediction naming a version that was never registered: nothing to show
        return None
    return msgspec.convert(summary, LineageSummary)
