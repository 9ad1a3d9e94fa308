"""What categorical attributes cost per scored transaction: features and a logreg score, without and with them.

    python -m bench.categorical_cost [--rows 20000] [--repeats 5]
                                     [--categories mcc,merchant_id,country,channel,device_id]

On the synthetic stream (`fraudlog.ml.datasets.synthetic_stream`, which sends text fields), one process, pure
compute (no database: the history query's extra JSON columns are not in these figures):

- `numbers only`: the features without card categories, text attributes dropped, scored by the numbers-only
  logreg (`one_hot=[]`, `hash_features=0`: the pipeline of every version before text attributes);
- `text + card categories`: the features with the per-card categorical features of `--categories`, scored by
  the default logreg (one-hot and hashed text).

A third figure scores the numbers-only data with the default logreg (which would encode text if any came):
what a deployment that sends numbers only pays for the encoders. All variants run alternately `--repeats`
times and the medians are reported, with their ratio: the ratio from one run is what to read on a shared,
noisy machine, not the absolute microseconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fraudlog.domain.features import TxView, batch_features
from fraudlog.ml.datasets import synthetic_stream
from fraudlog.ml.encoders import numbers_only
from fraudlog.ml.specs import ModelSpec, score_one, spec_for
from fraudlog.ml.training import TrainingData, fit

START = datetime(2026, 1, 5, tzinfo=UTC)
DEFAULT_CATEGORIES = "mcc,merchant_id,country,channel,device_id"


def trained(spec: ModelSpec, features: list[Any], labels: list[bool]) -> Any:
    data = TrainingData()
    for f, y in zip(features, labels, strict=True):
        data.append(f, y)
    return fit(spec, data)[0]


def per_transaction_micros(work: Callable[[], object], count: int) -> float:
    began = time.perf_counter()
    work()
    return (time.perf_counter() - began) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--categories", default=DEFAULT_CATEGORIES)
    args = parser.parse_args()
    categories = tuple(n.strip() for n in args.categories.split(",") if n.strip())
    rows = list(synthetic_stream(args.rows, start=START, cards=max(50, args.rows // 40)))
    views = [TxView.from_payload(i + 1, tx) for i, (tx, _) in enumerate(rows)]
    labels = [y for _, y in rows]
    plain = {p: dict(numbers_only(f)) for p, f in batch_features(views, []).items()}
    full = batch_features(views, [], categories)
    numbers_spec = spec_for("logreg", one_hot=[], hash_features=0, passes=1)
    text_spec = spec_for("logreg", passes=1).with_categories(categories)
    half = len(views) // 2
    numbers_model = trained(numbers_spec, [plain[v.position] for v in views[:half]], labels[:half])
    text_model = trained(text_spec, [full[v.position] for v in views[:half]], labels[:half])
    default_spec = spec_for("logreg", passes=1)
    default_model = trained(default_spec, [plain[v.position] for v in views[:half]], labels[:half])
    served = views[half:]

    def features_numbers() -> object:
        return {p: numbers_only(f) for p, f in batch_features(views, []).items()}

    def features_text() -> object:
        return batch_features(views, [], categories)

    def score_numbers() -> object:
        return [score_one(numbers_model, numbers_spec, plain[v.position]) for v in served]

    def score_text() -> object:
        return [score_one(text_model, text_spec, full[v.position]) for v in served]

    def score_numbers_default() -> object:
        return [score_one(default_model, default_spec, plain[v.position]) for v in served]

    timings: dict[str, list[float]] = {name: [] for name in ("fn", "ft", "sn", "st", "sd")}
    for _ in range(args.repeats):
        timings["fn"].append(per_transaction_micros(features_numbers, len(views)))
        timings["ft"].append(per_transaction_micros(features_text, len(views)))
        timings["sn"].append(per_transaction_micros(score_numbers, len(served)))
        timings["st"].append(per_transaction_micros(score_text, len(served)))
        timings["sd"].append(per_transaction_micros(score_numbers_default, len(served)))
    median = {name: statistics.median(values) for name, values in timings.items()}
    print(f"{args.rows:,} synthetic transactions, categories {','.join(categories)}, median of {args.repeats}")
    print("| per transaction | numbers only | text + card categories | ratio |")
    print("| --- | --- | --- | --- |")
    for label, a, b in (("features (batch_features)", "fn", "ft"), ("logreg score_one", "sn", "st")):
        print(f"| {label} | {median[a]:.1f} us | {median[b]:.1f} us | {median[b] / median[a]:.2f} |")
    both_a, both_b = median["fn"] + median["sn"], median["ft"] + median["st"]
    print(f"| features + score | {both_a:.1f} us | {both_b:.1f} us | {both_b / both_a:.2f} |")
    print(f"numbers-only data, default (text-encoding) logreg: {median['sd']:.1f} us per score_one, "
          f"{median['sd'] / median['sn']:.2f} x the numbers-only pipeline")


if __name__ == "__main__":
    main()
