"""The performance detector on the real sample: quiet on it as it is, and what it does when the relation moves.

    PYTHONPATH=. python -m bench.drift_sample

The ULB card sample (../shared/data, never copied into the repository) in time order: version 1 (the default
logreg) learns the first 10,000 transactions and serves the other 20,000 frozen, labels 1,000 transactions
late. Run twice: as it is (no detection expected), and with a change at transaction 20,000 where the six
features that carry most of the fraud signal trade places in pairs (V14/V4, V12/V11, V10/V17), so the
relation between features and fraud moves while each feature's values stay real.
"""

from __future__ import annotations

import csv
import gzip

from bench.load.corpus import SAMPLE_CSV
from fraudlog.ml.metrics import roc_auc
from fraudlog.ml.specs import score_one, spec_for
from fraudlog.ml.training import TrainingData, fit
from fraudlog.monitoring.drift import DriftParameters, PerformanceMonitor

TRAIN, DELAY, CHANGE = 10_000, 1_000, 20_000
SWAPS = (("V14", "V4"), ("V12", "V11"), ("V10", "V17"))


def sample() -> list[tuple[dict[str, float], bool]]:
    with gzip.open(SAMPLE_CSV, "rt", newline="") as handle:
        return [({k: float(v) for k, v in row.items() if k not in ("Class", "Time")}, row["Class"].strip('"') == "1")
                for row in csv.DictReader(handle)]


def run(rows: list[tuple[dict[str, float], bool]], change: int | None) -> str:
    data = TrainingData()
    for features, label in rows[:TRAIN]:
        data.append(features, label)
    spec = spec_for("logreg", window=TRAIN)
    model, _ = fit(spec, data)
    served = []
    for i in range(TRAIN, len(rows)):
        features = dict(rows[i][0])
        if change is not None and i >= change:
            for a, b in SWAPS:
                features[a], features[b] = features[b], features[a]
        served.append(score_one(model, spec, features))
    labels = [label for _, label in rows[TRAIN:]]
    monitor = PerformanceMonitor(DriftParameters())
    found = []
    for t in range(DELAY, len(served)):
        detection = monitor.add(TRAIN + t, served[t - DELAY], labels[t - DELAY], TRAIN + t - DELAY)
        if detection is not None:
            d = detection.details
            found.append(f"at {TRAIN + t:,} (recent ROC AUC {d['recent_roc_auc']:.3f} against "
                         f"{d['earlier_roc_auc']:.3f}, change dated {d['change_from']:,})")
    pivot = (change or len(rows)) - TRAIN
    before = roc_auc(served[:pivot], labels[:pivot])
    after = roc_auc(served[pivot:], labels[pivot:]) if change is not None else None
    return (f"| {'none' if change is None else f'features swapped at {change:,}'} | {before:.3f} | "
            f"{'-' if after is None else f'{after:.3f}'} | {sum(labels)} | {'; '.join(found) or 'none'} |")


def main() -> int:
    rows = sample()
    print("| change | served ROC AUC before | after | frauds served | detections |")
    print("| --- | --- | --- | --- | --- |")
    for change in (None, CHANGE):
        print(run(rows, change), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
