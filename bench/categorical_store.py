"""What categorical features cost the scorer end to end: history query, features, scores, one write transaction.

    python -m bench.categorical_store [--backend sqlite|postgres] [--rows 10000] [--batch 250] [--repeats 2]

For each variant a fresh database gets the same synthetic stream (with its text fields): 2,000 transactions
imported to train version 1, then `--rows` appended and scored by `Scorer.score_positions` in batches of
`--batch` positions, as the `score` actor does. "numbers only": version 1 is the numbers-only logreg without
card categories (what every version was before text attributes); "text + card categories": the default logreg
with the per-card features of mcc, merchant_id, country, channel and device_id, whose history query reads one
JSON path per category. Variants alternate `--repeats` times; the medians and their ratio are printed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

from bench.load.databases import fresh_database
from fraudlog.lifecycle.first_version import train_first_version
from fraudlog.ml.datasets import synthetic_stream
from fraudlog.ml.specs import ModelSpec, spec_for
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.engine import create_engine
from fraudlog.store.event_log import EventLog
from tests.support.data import transaction_event_from_body

SECRET = b"bench-categorical-secret"
START = datetime(2026, 11, 1, tzinfo=UTC)
CATEGORIES = ("mcc", "merchant_id", "country", "channel", "device_id")
WARMUP = 2_000


def scoring_micros(backend: str, spec: ModelSpec, rows: int, batch: int) -> float:
    """Microseconds per transaction for the scorer over `rows` appended transactions."""
    stream = list(synthetic_stream(WARMUP + rows, seed=7, start=START - timedelta(days=2), cards=max(50, rows // 40)))
    with fresh_database(backend) as db:
        engine = create_engine(db.url)
        try:
            registry = ModelRegistry(engine, SECRET)
            train_first_version(registry, stream[:WARMUP], spec, id_prefix="h:")
            log = EventLog(engine)
            [outcome] = log.append_transactions([[transaction_event_from_body(body) for body, _ in stream[WARMUP:]]],
                                                datetime.now(UTC))
            positions = [receipt.position for receipt in outcome.receipts]
            scorer = Scorer(engine, registry)
            began = time.perf_counter()
            for start in range(0, len(positions), batch):
                scorer.score_positions(positions[start:start + batch])
            return (time.perf_counter() - began) / len(positions) * 1e6
        finally:
            engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    variants = {"numbers only": spec_for("logreg", one_hot=[], hash_features=0, passes=1),
                "text + card categories": spec_for("logreg", passes=1).with_categories(CATEGORIES)}
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, spec in variants.items():
            timings[name].append(scoring_micros(args.backend, spec, args.rows, args.batch))
    plain, text = (statistics.median(timings[name]) for name in variants)
    print(f"{args.backend}, {args.rows:,} transactions scored in batches of {args.batch}, median of {args.repeats}: "
          f"numbers only {plain:.0f} us, text + card categories {text:.0f} us per transaction, "
          f"ratio {text / plain:.2f}")


if __name__ == "__main__":
    main()
