"""Training: a fresh model from a window of the log, its threshold, and the facts lineage records.

Version V = fit(spec, the training window as known at V's cut): every labelled transaction of the window,
in log order, `passes` times. Every step is deterministic (River's randomness is seeded by the spec, the
window's order is the log's), so running it again gives the same artifact SHA-256 (invariant 8,
docs/INVARIANTS.md).
"""

from __future__ import annotations

import bisect
import math
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import fraudlog
from fraudlog.domain.features import FeatureValues
from fraudlog.domain.records import TrainingCode
from fraudlog.ml.blend import RankBlend
from fraudlog.ml.environment import current as environment_now
from fraudlog.ml.metrics import RunningRocAuc
from fraudlog.ml.specs import Features, Model, ModelSpec, build_model, learn_one, score_one, spec_for


class TrainingData:
    """The transactions of a training window in log order, each with its label as known at the cut.

    Held compactly (one shared tuple of names per shape of feature dict, values in tuples), because a
    window of 100,000 feature dicts would take half a gigabyte, and training walks it several times.
    """

    def __init__(self) -> None:
        self._shapes: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._rows: list[tuple[tuple[str, ...], tuple[Any, ...], bool | None]] = []

    def append(self, features: Features, label: bool | None) -> None:
        names = tuple(features)
        shape = self._shapes.setdefault(names, names)
        self._rows.append((shape, tuple(features.values()), label))

    def __len__(self) -> int:
        return len(self._rows)

    def examples(self, last: int | None = None) -> Iterator[tuple[FeatureValues, bool | None]]:
        """The (features, label) pairs, the newest `last` of them only when given, in log order."""
        rows = self._rows if last is None or last >= len(self._rows) else self._rows[-last:]
        for names, values, label in rows:
            yield dict(zip(names, values, strict=True)), label


@dataclass(frozen=True, slots=True)
class TrainingReport:
    """What a training run saw. `roc_auc` is prequential: on the labelled events of the first pass, each
    scored before it was learned (the leakage trap); `learned` counts learn_one calls over all passes."""

    n_events: int
    n_labels: int
    n_frauds: int
    roc_auc: float | None
    learned: int
    passes: int

    def metrics(self) -> dict[str, Any]:
        """The summary that lineage stores (`model_versions.metrics`)."""
        return {"prequential_roc_auc": self.roc_auc, "n_events": self.n_events, "n_labels": self.n_labels,
                "n_frauds": self.n_frauds, "learned": self.learned, "passes": self.passes}


@dataclass(frozen=True, slots=True)
class Calibration:
    """The threshold chosen on the frozen model's own scores of recent traffic, for a target alert rate."""

    threshold: float
    target_alert_rate: float
    transactions: int
    alert_rate: float  # what the threshold gives on those transactions

    def metrics(self) -> dict[str, Any]:
        return {"target_alert_rate": self.target_alert_rate, "calibration_transactions": self.transactions,
                "calibration_alert_rate": self.alert_rate}


def fit(spec: ModelSpec, data: TrainingData) -> tuple[Model, TrainingReport]:
    """A new model for `spec`, trained afresh on `data` (never continued from a parent: training is then
    a function of the window and the spec alone, so it is reproducible and never skips a late label).

    Supervised specs learn the labelled events, `passes` times in log order; unsupervised ones learn every
    event of their (newest `window`) events once. A blend trains each member so, then fixes each member's
    reference scores on the newest `reference_size` events.
    """
    if spec.name == "blend":
        return _fit_blend(spec, data)
    model = build_model(spec)
    window, passes = int(spec.params["window"]), int(spec.params["passes"])
    auc, learned, events = RunningRocAuc(), 0, 0
    for turn in range(passes):
        for features, label in data.examples(window):
            events += turn == 0
            if spec.supervised and label is None:
                continue
            if turn == 0 and label is not None:
                auc.add(score_one(model, spec, features), label)
            learn_one(model, spec, features, label)
            learned += 1
    return model, TrainingReport(events, auc.n_positive + auc.n_negative, auc.n_positive, auc.value, learned, passes)


def _fit_blend(spec: ModelSpec, data: TrainingData) -> tuple[Model, TrainingReport]:
    members = {name: spec_for(name, **spec.params[name]) for name in ("logreg", "hst")}
    blend = RankBlend(members)
    reports = {}
    for name, member_spec in members.items():
        blend.models[name], reports[name] = fit(member_spec, data)
    recent = [features for features, _ in data.examples(int(spec.params["reference_size"]))]
    blend.set_references({name: [score_one(blend.models[name], members[name], f) for f in recent]
                          for name in members})
    # The blend's own prequential AUC is not defined (its references come last); report the supervised
    # member's, which is what its labels taught.
    main = reports["logreg"]
    events = max(r.n_events for r in reports.values())
    return blend, TrainingReport(events, main.n_labels, main.n_frauds, main.roc_auc,
                                 sum(r.learned for r in reports.values()), main.passes)


def calibrate(model: Model, spec: ModelSpec, data: TrainingData, target_alert_rate: float,
              transactions: int = 10_000) -> Calibration:
    """Choose the threshold on the scores the frozen `model` gives the newest `transactions` of `data`.

    The model that serves is frozen, so its threshold must come from its own frozen scores: scores taken
    while it was still learning (prequential) are on another scale, and the alert rate misses its target.
    """
    scores = [score_one(model, spec, features) for features, _ in data.examples(transactions)]
    threshold = choose_threshold(scores, target_alert_rate)
    rate = sum(1 for s in scores if s >= threshold) / len(scores)
    return Calibration(threshold, target_alert_rate, len(scores), rate)


def choose_threshold(scores: Sequence[float], target_alert_rate: float) -> float:
    """The threshold whose alert rate (the fraction of `scores` that are >= it) is closest to the target.

    Only observed scores are candidates. Scores often tie (HalfSpaceTrees' are mass counts), so the rate
    can only move in steps: of the two thresholds around the target, take the one whose rate is nearer,
    the higher threshold (fewer alerts) when both are equally near.
    """
    if not 0.0 < target_alert_rate <= 1.0:
        raise ValueError(f"target_alert_rate must be in (0, 1], got {target_alert_rate}")
    if not scores:
        raise ValueError("cannot choose a threshold from no scores")
    if any(math.isnan(score) for score in scores):
        raise ValueError("a score is NaN; a threshold needs every score to be a number")
    ascending = sorted(scores)
    n = len(ascending)
    wanted = target_alert_rate * n
    at_least = ascending[n - max(1, math.ceil(wanted))]  # alerts on at least the wanted number
    above_index = bisect.bisect_right(ascending, at_least)
    if above_index == n:
        return at_least
    above = ascending[above_index]  # the next observed score: alerts on fewer than wanted
    alerts_at_least = n - bisect.bisect_left(ascending, at_least)
    alerts_above = n - above_index
    return above if wanted - alerts_above <= alerts_at_least - wanted else at_least


def environment() -> dict[str, str | None]:
    """What lineage records as `environment` (see `fraudlog.ml.environment`)."""
    return environment_now()


def training_code(function: Callable[..., Any], git_commit: str | None = None) -> TrainingCode:
    """Which code trained a version: module, function, package version and git commit: `git_commit` when the
    deployment states it (FRAUDLOG_GIT_COMMIT, through Settings), else the checkout's HEAD, else None."""
    return TrainingCode(module=function.__module__, function=function.__qualname__,
                        package_version=fraudlog.__version__, git_commit=git_commit or _checkout_commit())


@lru_cache(maxsize=1)
def _checkout_commit() -> str | None:
    """HEAD of the git checkout the package runs from, if it runs from one; never raises."""
    root = Path(fraudlog.__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        command = ["git", "-C", str(root), "rev-parse", "HEAD"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) in (40, 64) else None
