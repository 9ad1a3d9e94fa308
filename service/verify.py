"""`fraudlog models verify V`: retrain a version from what its lineage records and compare the artifacts.

Training is reproducible (DESIGN invariant 8): version V = train(artifact of its parent, the events of its
lineage's range (first_position - 1, last_position] in position order, its spec). Running that again must
give the artifact SHA-256 that lineage recorded. When it does not, the report says which input moved: the
range's data (its digest differs: the lineage or the log was altered), the environment (another river,
Python or cloudpickle), the code, or the stored artifact itself (its SHA-256 or HMAC no longer verifies).

A version without a parent was trained from a file, not from the log, so the log alone cannot retrain it;
given the file (`--csv`), it is retrained the way `fraudlog train` did and compared the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

import msgspec

from service.domain.events import TransactionIn, canonical_transaction
from service.domain.features import TxView, batch_features
from service.ml.artifact import ArtifactRejected, pack
from service.ml.datasets import creditcard_transactions
from service.ml.specs import ModelSpec, build_model
from service.ml.training import choose_threshold, data_digest, environment, prequential, training_code
from service.retrain import TrainingRange, train_child
from service.store.registry import ModelRegistry, UnknownVersion, VersionRecord

DEFAULT_ALERT_RATE = 0.02


@dataclass(frozen=True)
class TrainingFile:
    """The creditcard.csv-format file a parentless version was trained from, read as `fraudlog train` did."""

    path: Path
    start: datetime
    cards: int | None = None
    rows: int | None = None  # None: as many as lineage says the version learned


@dataclass(frozen=True)
class Retrained:
    """What retraining produced, in lineage's terms."""

    artifact_sha256: str
    data_sha256: str
    event_count: int
    label_count: int
    threshold: float


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    recorded: Any
    found: Any


@dataclass
class VerifyReport:
    version: int
    method: str  # "log", "file", or "none" when the version could not be retrained
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def reproduced(self) -> bool:
        return self.method != "none" and all(check.ok for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "reproduced": self.reproduced, "method": self.method,
                "checks": [vars(c) for c in self.checks], "notes": self.notes}

    def lines(self) -> list[str]:
        verdict = "reproduced" if self.reproduced else "NOT reproduced"
        out = [f"model version {self.version}: {verdict}"]
        out += [f"  [{'ok' if c.ok else 'FAIL'}] {c.name}: recorded {c.recorded}, found {c.found}" for c in self.checks]
        return out + [f"  - {note}" for note in self.notes]


def verify_version(registry: ModelRegistry, version: int, training_file: TrainingFile | None = None,
                   ) -> VerifyReport:
    """Retrain `version` from its lineage and compare; raises UnknownVersion for a version that does not exist."""
    record = registry.get(version)
    stored_ok = registry.verify_artifact(version)
    if record.parent_version is None and training_file is None:
        source = record.training_data.get("source")
        report = VerifyReport(version, "none", [_stored_check(record, stored_ok)])
        report.notes.append(f"version {version} has no parent: it was trained from {source!r}, outside the log, so "
                            "the log alone cannot retrain it. Pass --csv PATH (the file it was trained from) to "
                            "retrain it from that file and compare.")
        return report
    method = "log" if record.parent_version is not None else "file"
    report = VerifyReport(version, method, [_stored_check(record, stored_ok)])
    try:
        retrained = _from_log(registry, record) if training_file is None else _from_file(registry, record,
                                                                                          training_file)
    except (ArtifactRejected, UnknownVersion, ValueError) as exc:
        report.method = "none"
        report.notes.append(f"could not retrain version {version}: {exc}")
        return report
    _compare(report, record, retrained, stored_ok)
    return report


def _stored_check(record: VersionRecord, ok: bool) -> Check:
    return Check("stored artifact matches its SHA-256 and HMAC", ok, record.artifact_sha256[:16],
                 "verified" if ok else "does not verify")


def _from_log(registry: ModelRegistry, record: VersionRecord) -> Retrained:
    data = record.training_data
    first, last = data.get("first_position"), data.get("last_position")
    if record.parent_version is None or data.get("source") != "log" or first is None or last is None:
        raise ValueError(f"its lineage names no range of the log to retrain from ({data})")
    rate = record.metrics.get("target_alert_rate")
    row = train_child(registry, record.parent_version, TrainingRange(int(first) - 1, int(last)),
                      target_alert_rate=None if rate is None else float(rate))
    trained = row["training_data"]
    return Retrained(row["artifact_sha256"], trained["sha256"], trained["event_count"], trained["label_count"],
                     float(row["threshold"]))


def _from_file(registry: ModelRegistry, record: VersionRecord, source: TrainingFile) -> Retrained:
    limit = source.rows if source.rows is not None else int(record.training_data.get("event_count") or 0) or None
    rows = creditcard_transactions(source.path, start=source.start, cards=source.cards)
    rate = float(record.metrics.get("target_alert_rate", DEFAULT_ALERT_RATE))
    return train_from_rows(islice(rows, limit) if limit else rows, ModelSpec.from_dict(record.model_spec),
                           registry.secret_key, rate)


def train_from_rows(rows: Iterable[tuple[dict[str, Any], bool]], spec: ModelSpec, secret_key: bytes,
                    target_alert_rate: float) -> Retrained:
    """Train a first version exactly as `bootstrap.train_first_version` does, without registering it."""
    views, labels, canonical = [], [], []
    for index, (body, is_fraud) in enumerate(rows, start=1):
        payload = canonical_transaction(msgspec.convert(body, TransactionIn, strict=False))
        canonical.append(msgspec.json.encode({**payload, "is_fraud": is_fraud}, order="sorted"))
        views.append(TxView.from_payload(index, payload))
        labels.append(is_fraud)
    if not views:
        raise ValueError("the file holds no transactions to train on")
    features = batch_features(views, [])
    model = build_model(spec)
    report = prequential(model, spec, ((features[v.position], y) for v, y in zip(views, labels, strict=True)))
    artifact = pack(model, secret_key)
    return Retrained(artifact.sha256, data_digest(canonical), report.n_events, report.n_labels,
                     choose_threshold(report.scores, target_alert_rate))


def _compare(report: VerifyReport, record: VersionRecord, new: Retrained, stored_ok: bool) -> None:
    data = record.training_data
    same_data = data.get("sha256") == new.data_sha256
    same_artifact = record.artifact_sha256 == new.artifact_sha256
    report.checks += [
        Check("training data SHA-256", same_data, str(data.get("sha256"))[:16], new.data_sha256[:16]),
        Check("events and labels learned", (data.get("event_count"), data.get("label_count")) ==
              (new.event_count, new.label_count), (data.get("event_count"), data.get("label_count")),
              (new.event_count, new.label_count)),
        Check("artifact SHA-256", same_artifact, record.artifact_sha256[:16], new.artifact_sha256[:16]),
        Check("threshold", record.threshold == new.threshold, record.threshold, new.threshold),
    ]
    report.notes += _explanations(record, same_data, same_artifact, stored_ok)


def _explanations(record: VersionRecord, same_data: bool, same_artifact: bool, stored_ok: bool) -> list[str]:
    notes: list[str] = []
    if not stored_ok:
        notes.append("the stored artifact no longer matches its recorded SHA-256 and HMAC: it was altered after "
                     "it was written" + ("; the retrained one matches the recorded SHA-256, so the lineage is "
                                         "intact and the stored blob is not" if same_artifact else ""))
    if not same_data:
        data = record.training_data
        span = (f"positions {data.get('first_position')}-{data.get('last_position')} of the log"
                if data.get("source") == "log" else "the given file")
        notes.append(f"{span} do not hash to the digest lineage recorded: these are not the events the version "
                     "learned (the lineage's training range, the log or the file differs)")
    if same_artifact:
        return notes
    moved = {key: (record.environment.get(key), now) for key, now in environment().items()
             if record.environment.get(key) != now}
    if moved:
        notes.append("this environment differs from the one that trained it ("
                     + ", ".join(f"{k} {then} then, {now} here" for k, (then, now) in moved.items())
                     + "): retrain under the recorded versions to compare")
    then, now = record.training_code.get("git_commit"), training_code(train_from_rows).get("git_commit")
    if then and now and then != now:
        notes.append(f"the training code differs: trained at commit {then[:12]}, this is {now[:12]}")
    if same_data and not moved:
        notes.append("same data and environment but a different artifact: training was not deterministic, or its "
                     "code changed")
    return notes
