"""One training function for every version: the first, each retrain, and `models verify`.

    version = fit(spec, read_window(log, cut, window_size(spec))), threshold = calibrate(on the newest
    10,000 transactions of that window, for the target alert rate)

Nothing else goes in: no parent artifact, no state of the process. So the first version (trained after
`fraudlog train --csv` imported its file into the log), every retrain, and a verification of either run the
same code on the same inputs, and a verification that does not reproduce the recorded SHA-256 points at
the data, the environment or the code, never at drift between two copies of a training loop.
"""

from __future__ import annotations

from typing import Any

from fraudlog.domain.records import Lineage, NewVersion
from fraudlog.lifecycle.window import read_window, window_size
from fraudlog.ml.artifact import pack
from fraudlog.ml.specs import ModelSpec
from fraudlog.ml.training import calibrate, environment, fit, training_code

DEFAULT_ALERT_RATE = 0.02
CALIBRATION_TRANSACTIONS = 10_000


class NothingToLearn(ValueError):
    """The window holds nothing the spec can learn from (no transactions, or no labels of both classes)."""


class ScoresCannotRank(ValueError):
    """The trained model's scores do not tell transactions apart: any threshold alerts on (nearly) all."""


# A threshold that alerts on more than this share of the calibration transactions is not a fraud threshold:
# a model scoring every transaction alike ({False: 1.0}) got threshold 0 and alerted on 100 % (issue 27 #13).
MAX_CALIBRATED_ALERT_RATE = 0.5


def train_version(engine: Any, secret_key: bytes, spec: ModelSpec, *, cut: int, parent: int | None,
                  target_alert_rate: float = DEFAULT_ALERT_RATE, git_commit: str | None = None) -> NewVersion:
    """Train `spec` on the log up to `cut`; returns the version, ready for `VersionStore.add`."""
    window = read_window(engine, cut, window_size(spec), spec.categories)
    if window.events == 0:
        raise NothingToLearn(f"no transactions at positions <= {cut} to train on")
    if spec.supervised and not 0 < window.frauds < window.labels:
        raise NothingToLearn(f"{spec.name} learns from labels, and the {window.events:,} transactions up to "
                             f"position {cut} hold {window.labels:,} labels with {window.frauds:,} frauds: "
                             "both classes are needed")
    model, report = fit(spec, window.data)
    calibration = calibrate(model, spec, window.data, target_alert_rate, CALIBRATION_TRANSACTIONS)
    if calibration.alert_rate > max(MAX_CALIBRATED_ALERT_RATE, target_alert_rate):
        raise ScoresCannotRank(
            f"{spec.name}'s scores cannot rank transactions: its best threshold ({calibration.threshold:.6g}) "
            f"would alert on {calibration.alert_rate:.2%} of the newest {calibration.transactions:,} "
            f"transactions (target {target_alert_rate:.2%}); not registered")
    artifact = pack(model, secret_key)
    lineage = Lineage(model_spec=spec.to_dict(),
                      training_code=training_code(train_version, git_commit),
                      training_data=window.lineage(window_size(spec)),
                      environment=environment())
    return NewVersion(parent_version=parent, lineage=lineage, artifact=artifact.blob,
                      artifact_sha256=artifact.sha256, artifact_hmac=artifact.hmac, threshold=calibration.threshold,
                      metrics={**report.metrics(), **calibration.metrics()}, watermark=cut)
