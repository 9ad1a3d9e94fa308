"""The auditor's view of one transaction: each prediction's lineage, and whether replay reproduces it."""

from __future__ import annotations

from collections.abc import Sequence

from fraudlog.domain.events import format_time
from fraudlog.domain.features import TxView
from fraudlog.domain.records import LineageSummary, TrainingRange
from fraudlog.ml.artifact import ArtifactRejected
from fraudlog.ml.specs import ModelSpec, union_categories
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay.compare import field_differences
from fraudlog.replay.history import features_of
from fraudlog.replay.recompute import score_with, scoring_versions, with_suppressions
from fraudlog.store.event_log import EventRecord
from fraudlog.store.predictions import PredictionRecord
from fraudlog.store.roles import assignment_table
from fraudlog.store.snapshot import read_only_snapshot
from fraudlog.store.suppressions import suppressions_of
from fraudlog.store.versions import UnknownVersion

UNEXPECTED = "unexpected"  # no version the log assigns to the event should have written this prediction
ARTIFACT = "artifact"  # the version's artifact does not verify, so nothing can be recomputed with it


def lineage_summary(registry: ModelRegistry, version: int) -> LineageSummary:
    """Enough of a version's lineage to say what produced a score; `GET /v1/models/{v}` has the rest."""
    record = registry.get(version)
    data = record.training_data
    return LineageSummary(version=record.version, parent_version=record.parent_version,
                          model_spec=record.model_spec.get("name"),
                          training_range=TrainingRange(source=data.source, first_position=data.first_position,
                                                       last_position=data.last_position),
                          artifact_sha256=record.artifact_sha256, created_at=format_time(record.created_at))


def reproduce(registry: ModelRegistry, event: EventRecord, stored: Sequence[PredictionRecord],
              ) -> dict[int, list[str]]:
    """For each stored prediction of the transaction `event`, the fields replay could not reproduce (an
    empty list: it reproduces bit for bit), or `unexpected` / `artifact`. Reads only, on one snapshot, and
    only what the caller does not hold already: the assignment and the history as of the event's position."""
    tx = TxView.from_payload(event.position, event.payload)
    with read_only_snapshot(registry.engine) as conn:
        assignment = assignment_table(conn, tx.position).assignment_at(tx.position)
        categories = _categories_read_by(registry, [p.model_version for p in stored])
        features = features_of(conn, [tx], categories)[tx.position]
        suppressions = suppressions_of(conn, [tx.card_id] if tx.card_id is not None else [])
    verdicts: dict[int, list[str]] = {}
    for prediction in stored:
        version = prediction.model_version
        if version not in scoring_versions(assignment):
            verdicts[version] = [UNEXPECTED]
            continue
        try:
            replayed = score_with(registry, version, tx, features, champion=version == assignment.champion,
                                  categories=categories)
        except (ArtifactRejected, UnknownVersion):
            verdicts[version] = [ARTIFACT]
            continue
        [replayed] = with_suppressions(suppressions, [replayed], [tx])
        verdicts[version] = sorted(field_differences(prediction, replayed))
    return verdicts


def _categories_read_by(registry: ModelRegistry, versions: Sequence[int]) -> tuple[str, ...]:
    """The categories of the versions' specs (from lineage: an artifact that fails its checks still names them)."""
    specs = []
    for version in versions:
        try:
            specs.append(ModelSpec.from_dict(registry.get(version).model_spec))
        except UnknownVersion:
            continue
    return union_categories(specs)
