"""What reason codes cost, and whether they mean something, on the real sample.

    python -m bench.explain [--rows 30000] [--measured 400] [--alert-rate 0.02]

On `creditcard_sample.csv.gz` (read as `tests/support/data.py` reads it, cards drawn at random so card
features carry no signal), one process, pure compute (no database): each family (`logreg`, `hst`, `blend`)
is trained on the first 60 % of the rows and serves the rest with a threshold at its top `--alert-rate`.

- **Cost per prediction**: the median microseconds of `score_one` and of `explain` over `--measured`
  served transactions, per family. With reasons for alerts only, scoring `n` transactions costs
  `n · score + alert_rate · n · explain`: the overhead printed is that second term over the first (the
  scorer's database work, which dominates end to end, is not in the denominator, so this over-states it).
- **What the reasons name**: among the served alerts of each family, how often each feature is among the top
  3 reasons with a positive contribution, for true frauds and for false alarms.

Read ratios, not absolute figures: the machine these ran on is shared.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from bench.load.corpus import SAMPLE_CSV
from fraudlog.domain.features import TxView, batch_features
from fraudlog.ml.datasets import creditcard_transactions
from fraudlog.ml.explain import explain
from fraudlog.ml.specs import ModelSpec, score_one, spec_for
from fraudlog.ml.training import TrainingData, fit

START = datetime(2026, 1, 5, tzinfo=UTC)
FAMILIES = ("logreg", "hst", "blend")


def micros(work: Any, repeats: int) -> float:
    began = time.perf_counter()
    for _ in range(repeats):
        work()
    return (time.perf_counter() - began) / repeats * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--measured", type=int, default=400)
    parser.add_argument("--alert-rate", type=float, default=0.02)
    args = parser.parse_args()
    rows = list(creditcard_transactions(SAMPLE_CSV, start=START, cards=500, limit=args.rows))
    views = [TxView.from_payload(i + 1, tx) for i, (tx, _) in enumerate(rows)]
    features = batch_features(views, views)
    labels = [y for _, y in rows]
    cut = int(len(views) * 0.6)
    training = TrainingData()
    for view, label in zip(views[:cut], labels[:cut], strict=True):
        training.append(features[view.position], label)
    served = [(features[v.position], y) for v, y in zip(views[cut:], labels[cut:], strict=True)]
    print(f"{len(rows):,} rows, {sum(labels):,} frauds; served {len(served):,} ({sum(y for _, y in served)} frauds)")
    print("\n| family | score µs | explain µs | explain / score | overhead at alert rate | method |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    named: dict[str, tuple[Counter[str], Counter[str], int, int]] = {}
    for name in FAMILIES:
        spec = spec_for(name)
        model = fit(spec, training)[0]
        report_family(name, spec, model, served, args, named)
    print("\nFeatures among the top 3 positive reasons of served alerts (share of alerts naming each):\n")
    for name, (frauds, false_alarms, n_fraud, n_false) in named.items():
        print(f"**{name}** ({n_fraud} true frauds, {n_false} false alarms)\n")
        print("| feature | true frauds | false alarms |")
        print("| --- | ---: | ---: |")
        for feature, _ in (frauds + false_alarms).most_common(8):
            fraud_share, false_share = frauds[feature] / max(n_fraud, 1), false_alarms[feature] / max(n_false, 1)
            print(f"| `{feature}` | {fraud_share:.0%} | {false_share:.0%} |")
        print()


def report_family(name: str, spec: ModelSpec, model: Any, served: list[tuple[Any, bool]], args: argparse.Namespace,
                  named: dict[str, tuple[Counter[str], Counter[str], int, int]]) -> None:
    scores = [score_one(model, spec, f) for f, _ in served]
    threshold = sorted(scores, reverse=True)[max(0, int(len(scores) * args.alert_rate) - 1)]
    sample = [f for f, _ in served[: args.measured]]
    score_us = statistics.median(micros(lambda f=f: score_one(model, spec, f), 3) for f in sample)
    explain_us = statistics.median(micros(lambda f=f: explain(model, spec, f), 1) for f in sample)
    method = explain(model, spec, sample[0]).method
    overhead = args.alert_rate * explain_us / score_us
    print(f"| {name} | {score_us:.0f} | {explain_us:.0f} | {explain_us / score_us:.1f}x | {overhead:.1%} | {method} |")
    frauds: Counter[str] = Counter()
    false_alarms: Counter[str] = Counter()
    n_fraud = n_false = 0
    for (f, label), score in zip(served, scores, strict=True):
        if score < threshold:
            continue
        top = [r.feature for r in explain(model, spec, f).reasons if r.contribution > 0][:3]
        (frauds if label else false_alarms).update(top)
        n_fraud, n_false = n_fraud + label, n_false + (not label)
    named[name] = (frauds, false_alarms, n_fraud, n_false)


if __name__ == "__main__":
    main()
