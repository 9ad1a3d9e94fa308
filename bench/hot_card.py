"""A hot card (issue 27, defect 1): what one card's burst costs, and what it does to other cards' scoring.

    python -m bench.hot_card [--sizes 1000,2000,4000] [--burst 5000] [--control 10] [--skip-isolation]

1. `features`: CPU seconds of `batch_features` for one batch of n transactions of one card, each with its own
   merchant, device and mcc, all within the window, with the three as categories and without (numbers only).
   Quadratic code costs 4x per doubling, O(n log n) code about 2x.
2. `isolation`: the scenario of `tests/integration/test_hot_card.py` (`tests.support.hot_card`) on Postgres
   and RabbitMQ: other cards post 100 transactions a second; after `--control` seconds a `--burst` on one card
   is rung; other cards' p99 scoring latency during the burst over the same before it. Needs RabbitMQ on
   127.0.0.1:5672 and `FRAUDLOG_QUEUE_PREFIX` unset or unique.

Read the ratios: on a shared machine the absolute figures move with the neighbours.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

from bench.load.databases import fresh_database
from fraudlog.domain.features import TxView, batch_features
from fraudlog.store.engine import create_engine

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CATEGORIES = ("merchant_id", "device_id", "mcc")
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672"


def feature_seconds(size: int, categories: tuple[str, ...]) -> float:
    log = [TxView(i, f"tx-{i}", "hot", T0 + timedelta(seconds=i), float(i % 97),
                  {"merchant_id": f"m{i}", "device_id": f"d{i}", "mcc": f"{i % 9000}"}) for i in range(1, size + 1)]
    started = time.process_time()
    batch_features(log, [], categories)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,4000")
    parser.add_argument("--burst", type=int, default=5_000)
    parser.add_argument("--control", type=float, default=10.0)
    parser.add_argument("--skip-isolation", action="store_true")
    args = parser.parse_args()
    print("features of one batch of one card (CPU s):  categories  numbers-only")
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"  {size:>6}                                {feature_seconds(size, CATEGORIES):9.3f}"
              f"  {feature_seconds(size, ()):11.3f}")
    if args.skip_isolation:
        return
    from tests.support.hot_card import run_isolation  # the test helpers' scenario, with its worker process

    os.environ.setdefault("FRAUDLOG_QUEUE_PREFIX", f"bench-hot-{uuid.uuid4().hex[:8]}")
    with fresh_database("postgres", prefix="fraudlog_bench_hot") as database:
        engine = create_engine(database.url)
        try:
            run = run_isolation(engine, database.url, RABBITMQ_URL, burst=args.burst, control_seconds=args.control)
        finally:
            engine.dispose()
    print(f"isolation: burst of {args.burst} scored in {run.burst_seconds:.1f} s; other cards' p99 "
          f"{run.control_p99 * 1000:.0f} ms before, {run.burst_p99 * 1000:.0f} ms during "
          f"({run.others_during_burst} transactions): ratio {run.ratio:.2f}")


if __name__ == "__main__":
    main()
