"""Training: prequential learning, the alert threshold, and the facts lineage records about a run.

Version N+1 = train(artifact of N, events in (watermark N, watermark N+1] in position order, spec). Every
step here is deterministic (River's randomness is seeded by the spec, the stream's order is the log's), so
running it again gives the same artifact SHA-256 (DESIGN invariant 8).
"""

from __future__ import annotations

import bisect
import hashlib
import math
import os
import platform
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cloudpickle
import river

import service
from service.ml.metrics import RunningRocAuc
from service.ml.specs import Features, Model, ModelSpec, learn_one, score_one

GIT_COMMIT_VARIABLE = "FRAUDLOG_GIT_COMMIT"


@dataclass(frozen=True, slots=True)
class TrainingReport:
    """What a prequential pass saw. `roc_auc` is on the labelled events, from scores made before
    learning each one; `scores` holds every event's score, in stream order."""

    n_events: int
    n_labels: int
    n_frauds: int
    roc_auc: float | None
    scores: list[float]

    def metrics(self) -> dict[str, Any]:
        """The summary that lineage stores (`model_versions.metrics`)."""
        return {
            "prequential_roc_auc": self.roc_auc,
            "n_events": self.n_events,
            "n_labels": self.n_labels,
            "n_frauds": self.n_frauds,
        }


def prequential(
    model: Model, spec: ModelSpec, stream: Iterable[tuple[Features, bool | None]]
) -> TrainingReport:
    """Train `model` in place on `stream`, scoring each event *before* learning it, so that no score has
    seen its own event (the leakage trap). A label of None means "not known yet"."""
    auc = RunningRocAuc()
    scores: list[float] = []
    for features, label in stream:
        score = score_one(model, spec, features)
        scores.append(score)
        if label is not None:
            auc.add(score, label)
        learn_one(model, spec, features, label)
    return TrainingReport(
        n_events=len(scores),
        n_labels=auc.n_positive + auc.n_negative,
        n_frauds=auc.n_positive,
        roc_auc=auc.value,
        scores=scores,
    )


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


def environment() -> dict[str, str]:
    """The versions that decide how an artifact is built and loaded."""
    return {
        "python": platform.python_version(),
        "river": str(river.__version__),
        "cloudpickle": str(cloudpickle.__version__),
    }


def training_code(function: Callable[..., Any]) -> dict[str, Any]:
    """Which code trained a version: module, function, package version and git commit (None if unknown)."""
    return {
        "module": function.__module__,
        "function": function.__qualname__,
        "package_version": service.__version__,
        "git_commit": os.environ.get(GIT_COMMIT_VARIABLE) or _checkout_commit(),
    }


@lru_cache(maxsize=1)
def _checkout_commit() -> str | None:
    """HEAD of the git checkout the package runs from, if it runs from one; never raises."""
    root = Path(service.__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        command = ["git", "-C", str(root), "rev-parse", "HEAD"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) in (40, 64) else None


def data_digest(payloads: Iterable[bytes]) -> str:
    """SHA-256 of the training events' canonical bytes, each followed by a newline.

    That is the SHA-256 of the events written as a JSON-lines file, so anyone can check it with
    `sha256sum`; the newline also keeps `[b"ab", b"c"]` and `[b"a", b"bc"]` apart. Canonical JSON holds
    no raw newline, so the separator is unambiguous. Streams: memory does not grow with the range.
    """
    digest = hashlib.sha256()
    for payload in payloads:
        digest.update(payload)
        digest.update(b"\n")
    return digest.hexdigest()
