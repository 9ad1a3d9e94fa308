"""Whether storing reasons for alerts moves the scorer's end-to-end throughput, at a 2 % alert rate.

    python -m bench.explain_e2e [--backend sqlite] [--rows 5000] [--batch 250] [--repeats 2]

Like `bench.categorical_store`: a fresh database, a first version trained on imported history with a
target alert rate of 2 %, then `--rows` appended and scored by `Scorer.score_positions` in batches. Each
family runs with reasons (as shipped) and without (the scorer's `stored_reasons` replaced by one returning
None), alternately, `--repeats` times; the medians and their ratio are printed. Read the ratio: the machine
is shared.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

from bench.load.databases import fresh_database
from fraudlog.lifecycle.first_version import train_first_version
from fraudlog.ml.datasets import synthetic_stream
from fraudlog.ml.specs import ModelSpec, spec_for
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring import scorer as scorer_module
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.engine import create_engine
from fraudlog.store.event_log import EventLog
from tests.support.data import transaction_event_from_body

SECRET = b"bench-explain-secret"
START = datetime(2026, 11, 1, tzinfo=UTC)
WARMUP = 2_000


def scoring_micros(backend: str, spec: ModelSpec, rows: int, batch: int) -> tuple[float, int]:
    """(microseconds per transaction, alerts) for the scorer over `rows` appended transactions."""
    stream = list(synthetic_stream(WARMUP + rows, seed=7, start=START - timedelta(days=2), cards=max(50, rows // 40)))
    with fresh_database(backend) as db:
        engine = create_engine(db.url)
        try:
            registry = ModelRegistry(engine, SECRET)
            train_first_version(registry, stream[:WARMUP], spec, id_prefix="h:", target_alert_rate=0.02)
            [outcome] = EventLog(engine).append_transactions(
                [[transaction_event_from_body(body) for body, _ in stream[WARMUP:]]], datetime.now(UTC))
            positions = [receipt.position for receipt in outcome.receipts]
            scorer = Scorer(engine, registry)
            alerts = 0
            began = time.perf_counter()
            for start in range(0, len(positions), batch):
                alerts += scorer.score_positions(positions[start:start + batch]).alerts
            return (time.perf_counter() - began) / len(positions) * 1e6, alerts
        finally:
            engine.dispose()


def without_reasons(*_: Any, **__: Any) -> None:
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print("| family | without reasons µs/tx | with reasons µs/tx | ratio | alerts |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for family in ("logreg", "hst"):
        spec = spec_for(family, passes=1) if family == "logreg" else spec_for(family)
        plain: list[float] = []
        explained: list[float] = []
        alerts = 0
        for _ in range(args.repeats):
            with mock.patch.object(scorer_module, "stored_reasons", without_reasons):
                plain.append(scoring_micros(args.backend, spec, args.rows, args.batch)[0])
            micros, alerts = scoring_micros(args.backend, spec, args.rows, args.batch)
            explained.append(micros)
        off, on = statistics.median(plain), statistics.median(explained)
        print(f"| {family} | {off:.0f} | {on:.0f} | {on / off:.3f} | {alerts} of {args.rows} |")


if __name__ == "__main__":
    main()
