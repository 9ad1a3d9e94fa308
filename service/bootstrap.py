"""Train a first model version from a labelled file (not from the log), register it and promote it.

The file's transactions get the same features as served ones, computed by the same pure function with
positions standing for row order, so a model never sees features at serving that training could not have.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from service.domain.assignment import CHALLENGER, CHAMPION
from service.domain.events import TransactionIn, canonical_transaction
from service.domain.features import TxView, batch_features
from service.ml.artifact import pack
from service.ml.specs import ModelSpec, build_model
from service.ml.training import choose_threshold, data_digest, environment, prequential, training_code
from service.store.registry import ModelRegistry

DEFAULT_ALERT_RATE = 0.02


@dataclass(frozen=True)
class BootstrapResult:
    version: int
    threshold: float
    metrics: dict[str, Any]
    artifact_sha256: str


def train_first_version(registry: ModelRegistry, rows: Iterable[tuple[dict[str, Any], bool]], spec: ModelSpec, *,
                        source: str, target_alert_rate: float = DEFAULT_ALERT_RATE, promote: bool = True,
                        progress: Callable[[int], None] | None = None) -> BootstrapResult:
    """Learn `rows` (transaction dicts in the HTTP shape, with their labels) prequentially and register it."""
    views, labels, canonical = [], [], []
    for index, (body, is_fraud) in enumerate(rows, start=1):
        tx = msgspec.convert(body, TransactionIn, strict=False)
        payload = canonical_transaction(tx)
        canonical.append(msgspec.json.encode({**payload, "is_fraud": is_fraud}, order="sorted"))
        views.append(TxView.from_payload(index, payload))
        labels.append(is_fraud)
    if not views:
        raise ValueError(f"{source}: no transactions to train on")
    features = batch_features(views, [])
    model = build_model(spec)
    report = prequential(model, spec, ((features[v.position], label) for v, label in zip(views, labels, strict=True)))
    if progress:
        progress(len(views))
    threshold = choose_threshold(report.scores, target_alert_rate)
    artifact = pack(model, registry.secret_key)
    version = registry.add_version({
        "parent_version": None,
        "model_spec": spec.to_dict(),
        "training_code": training_code(train_first_version),
        "training_data": {"source": source, "first_position": None, "last_position": None,
                          "event_count": report.n_events, "label_count": report.n_labels,
                          "sha256": data_digest(canonical)},
        "environment": environment(),
        "artifact": artifact.blob, "artifact_sha256": artifact.sha256, "artifact_hmac": artifact.hmac,
        "threshold": threshold,
        "metrics": {**report.metrics(), "target_alert_rate": target_alert_rate},
        "watermark": 0,
    })
    registry.set_role(version, CHAMPION if promote else CHALLENGER)
    return BootstrapResult(version, threshold, report.metrics(), artifact.sha256)
