"""Compare stored predictions with recomputed ones, bit for bit, and tally what replay found."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypedDict

from fraudlog.replay.recompute import Recomputed
from fraudlog.store.predictions import PredictionRecord as StoredPrediction

IDENTICAL, DIFFERENT, MISSING, UNEXPECTED = "identical", "different", "missing", "unexpected"
DEFAULT_SHOWN = 10


class Change(TypedDict):
    """One field's (or one feature's) stored and replayed values, which differ."""

    stored: object
    replayed: object


# A disagreeing field's change, by field name; under `features`, each disagreeing feature's, by feature name.
FieldDifferences = dict[str, Change | dict[str, Change]]


class DifferenceDocument(TypedDict):
    """A `Difference` as `fraudlog replay --json` prints it."""

    kind: str
    transaction_id: str
    position: int
    model_version: int
    fields: FieldDifferences


@dataclass(frozen=True)
class Difference:
    """One prediction that replay could not reproduce.

    `kind` is `different` (stored and recomputed disagree on `fields`), `missing` (the log says the version
    scored the event, nothing is stored) or `unexpected` (stored, but no version the log assigns wrote it).
    `fields` maps each disagreeing field to its stored and replayed values; for features, each feature.
    """

    kind: str
    transaction_id: str
    position: int
    model_version: int
    fields: FieldDifferences

    def to_dict(self) -> DifferenceDocument:
        return {"kind": self.kind, "transaction_id": self.transaction_id, "position": self.position,
                "model_version": self.model_version, "fields": self.fields}


@dataclass
class Tally:
    """Counts of a replay, and the first `keep` differences in full (the rest are only counted)."""

    keep: int = DEFAULT_SHOWN
    identical: int = 0
    different: int = 0
    missing: int = 0
    unexpected: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def checked(self) -> int:
        """Predictions the log says must exist, each compared with what is stored."""
        return self.identical + self.different + self.missing

    def add(self, difference: Difference | None) -> None:
        if difference is None:
            self.identical += 1
            return
        setattr(self, difference.kind, getattr(self, difference.kind) + 1)
        if len(self.differences) < self.keep:
            self.differences.append(difference)


def same_float(stored: float, replayed: float) -> bool:
    """Equal as numbers; two NaNs count as the same (a NaN never equals itself)."""
    return stored == replayed or (math.isnan(stored) and math.isnan(replayed))


def same_reasons(stored: StoredPrediction, replayed: Recomputed) -> bool:
    """Whether the stored reasons are the recomputed ones. A prediction written before reasons were stored
    (migration 0008) has none: it is compared on everything else, so upgrading never fails a replay."""
    return stored.reasons is None or stored.reasons == replayed.reasons


def field_differences(stored: StoredPrediction, replayed: Recomputed) -> FieldDifferences:
    fields: FieldDifferences = {}
    if stored.champion != replayed.champion:
        fields["champion"] = {"stored": stored.champion, "replayed": replayed.champion}
    for name in ("score", "threshold"):
        old, new = getattr(stored, name), getattr(replayed, name)
        if not same_float(old, new):
            fields[name] = {"stored": old, "replayed": new}
    if stored.features != replayed.features:
        names = sorted(set(stored.features) | set(replayed.features))
        fields["features"] = {
            name: {"stored": stored.features.get(name), "replayed": replayed.features.get(name)}
            for name in names if stored.features.get(name) != replayed.features.get(name)}
    if not same_reasons(stored, replayed):
        fields["reasons"] = {"stored": stored.reasons, "replayed": replayed.reasons}
    if stored.suppressed_by != replayed.suppressed_by:
        fields["suppressed_by"] = {"stored": stored.suppressed_by, "replayed": replayed.suppressed_by}
    return fields


def compare_chunk(stored: Iterable[StoredPrediction], replayed: Iterable[Recomputed], tally: Tally) -> None:
    """Match stored and recomputed predictions by (transaction, version) and tally each pair."""
    by_key = {(p.transaction_id, p.model_version): p for p in stored}
    for new in replayed:
        old = by_key.pop((new.transaction_id, new.model_version), None)
        if old is None:
            tally.add(Difference(MISSING, new.transaction_id, new.position, new.model_version,
                                 {"score": {"stored": None, "replayed": new.score}}))
            continue
        if (old.score == new.score and old.threshold == new.threshold and old.champion == new.champion
                and old.features == new.features and same_reasons(old, new)
                and old.suppressed_by == new.suppressed_by):
            tally.identical += 1  # the common case, checked inline: it runs for every prediction
            continue
        fields = field_differences(old, new)
        tally.add(Difference(DIFFERENT, new.transaction_id, new.position, new.model_version, fields)
                  if fields else None)
    for old in sorted(by_key.values(), key=lambda p: (p.position, p.model_version)):
        tally.add(Difference(UNEXPECTED, old.transaction_id, old.position, old.model_version,
                             {"score": {"stored": old.score, "replayed": None}}))
