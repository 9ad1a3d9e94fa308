"""`fraudlog models verify V`: retrain a version from what its lineage records and compare the artifacts.

Training is reproducible (invariant 8, docs/INVARIANTS.md): version V = `train_version(spec, cut)` over
the log, the very function that trained it (`fraudlog.lifecycle.versions`). Running it again must give the
artifact SHA-256 that lineage recorded. When it does not, the report says which input moved: the window's
data (its digest differs: the lineage or the log was altered), the environment (another Python, river,
numpy, scipy or cloudpickle: reported first, since it explains everything after it), the code, or the
stored artifact itself (its SHA-256 or HMAC no longer verifies).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

from fraudlog.domain.records import NewVersion, VersionRecord
from fraudlog.lifecycle.versions import DEFAULT_ALERT_RATE, NothingToLearn, train_version
from fraudlog.ml.artifact import ArtifactRejected
from fraudlog.ml.environment import Drift, describe, differences
from fraudlog.ml.specs import ModelSpec
from fraudlog.ml.training import training_code
from fraudlog.models.registry import ModelRegistry
from fraudlog.store.versions import UnknownVersion


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    recorded: Any
    found: Any


class CheckDocument(TypedDict):
    """A `Check` as `fraudlog models verify --json` prints it."""

    name: str
    ok: bool
    recorded: Any
    found: Any


class VerifyDocument(TypedDict):
    """A `VerifyReport` as `fraudlog models verify --json` prints it."""

    version: int
    reproduced: bool
    method: str
    environment: Drift
    checks: list[CheckDocument]
    notes: list[str]


@dataclass
class VerifyReport:
    version: int
    method: str  # "log", or "none" when the version could not be retrained
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    environment: Drift = field(default_factory=dict)  # what differs from the recorded environment, shown first

    @property
    def reproduced(self) -> bool:
        return self.method != "none" and all(check.ok for check in self.checks)

    def to_dict(self) -> VerifyDocument:
        return {"version": self.version, "reproduced": self.reproduced, "method": self.method,
                "environment": self.environment,
                "checks": [{"name": c.name, "ok": c.ok, "recorded": c.recorded, "found": c.found} for c in self.checks],
                "notes": self.notes}

    def lines(self) -> list[str]:
        verdict = "reproduced" if self.reproduced else "NOT reproduced"
        out = [f"model version {self.version}: {verdict}"]
        if self.environment:  # first: it explains every difference below it
            out.append(f"  environment differs from the one that trained it: {describe(self.environment)}")
        out += [f"  [{'ok' if c.ok else 'FAIL'}] {c.name}: recorded {c.recorded}, found {c.found}" for c in self.checks]
        return out + [f"  - {note}" for note in self.notes]


def verify_version(registry: ModelRegistry, version: int) -> VerifyReport:
    """Retrain `version` from its lineage and compare; raises UnknownVersion for a version that does not exist."""
    record = registry.get(version)
    stored_ok = registry.verify_artifact(version)
    report = VerifyReport(version, "log", [Check("stored artifact matches its SHA-256 and HMAC", stored_ok,
                                                 record.artifact_sha256[:16],
                                                 "verified" if stored_ok else "does not verify")])
    report.environment = moved = differences(record.environment)
    data = record.training_data
    if data.source != "log" or data.label_cut is None:
        report.method = "none"
        report.notes.append(f"version {version} was trained by an earlier training method from {data.source!r}"
                            " (not a window of the log), which this code cannot re-run")
        return report
    try:
        rate = float(record.metrics.get("target_alert_rate", DEFAULT_ALERT_RATE))
        trained = train_version(registry.engine, registry.secret_key, ModelSpec.from_dict(record.model_spec),
                            cut=data.label_cut, parent=record.parent_version, target_alert_rate=rate)
    except (ArtifactRejected, UnknownVersion, NothingToLearn, ValueError) as exc:
        report.method = "none"
        report.notes.append(f"could not retrain version {version}: {exc}")
        return report
    _compare(report, record, trained, stored_ok, bool(moved))
    return report


def _compare(report: VerifyReport, record: VersionRecord, trained: NewVersion, stored_ok: bool, moved: bool,
             ) -> None:
    data, new = record.training_data, trained.lineage.training_data
    same_data = data.sha256 == new.sha256
    same_artifact = record.artifact_sha256 == trained.artifact_sha256
    counts, new_counts = (data.event_count, data.label_count), (new.event_count, new.label_count)
    span, new_span = (data.first_position, data.last_position), (new.first_position, new.last_position)
    report.checks += [
        Check("training window (log positions)", span == new_span, span, new_span),
        Check("training data SHA-256", same_data, str(data.sha256)[:16], str(new.sha256)[:16]),
        Check("events and labels learned", counts == new_counts, counts, new_counts),
        Check("artifact SHA-256", same_artifact, record.artifact_sha256[:16], trained.artifact_sha256[:16]),
        Check("threshold", record.threshold == trained.threshold, record.threshold, trained.threshold),
    ]
    if not stored_ok:
        report.notes.append("the stored artifact no longer matches its recorded SHA-256 and HMAC: it was altered "
                            "after it was written" + ("; the retrained one matches the recorded SHA-256, so the "
                                                      "lineage is intact and the stored blob is not"
                                                      if same_artifact else ""))
    if not same_data:
        report.notes.append(f"positions {data.first_position}-{data.last_position} of the log do "
                            "not hash to the digest lineage recorded: these are not the events the version "
                            "learned (the lineage's training range or the log differs)")
    if same_artifact:
        return
    then, now = record.training_code.git_commit, training_code(train_version).git_commit
    if then and now and then != now:
        report.notes.append(f"the training code differs: trained at commit {then[:12]}, this is {now[:12]}")
    if same_data and not moved:
        report.notes.append("same data and environment but a different artifact: training was not deterministic, "
                            "or its code changed")
