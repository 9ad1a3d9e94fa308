"""Replay and rebuild benchmark: how fast the log is re-derived, against the bare limit of the same work.

    .venv/bin/python -m bench.replay [--backend sqlite|postgres|both] [--transactions 100000] [--repeats 3]

For each backend it creates a fresh, migrated database, registers two versions (an `hst` champion and a
`logreg` challenger, as in production), appends N synthetic transactions (N/40 cards, like the demo) with
`EventLog.append_transactions` in batches of 5,000 and labels for half of them, and scores every one with
`Scorer` in batches of 1,000. Then, each `--repeats` times (the median is reported):

  bare      the same features (`batch_features`) and `score_one` calls for every assigned version, over the
            same transactions held in memory: no database, no comparison. The ceiling replay aims at.
  replay    `replay()` over the whole log with a fresh registry (artifacts loaded and HMAC-verified once):
            stream, features, scores, comparison with the stored predictions. It must reproduce every one.
  backtest  `backtest()` of the challenger over the whole log.
  rebuild   `rebuild()` into a fresh database of the same backend: copy the log and the versions,
            recompute labels, predictions and alerts.

Rates are transactions per second. The machine's load average is recorded beside each backend, because
the machine may be shared. Results go to bench/results/replay-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.load.databases import fresh_database
from bench.load.results import REPO, machine_info, write_results
from bench.load.timing import run_once, summary
from fraudlog.domain.features import batch_features
from fraudlog.lifecycle.first_version import train_first_version
from fraudlog.ml.datasets import synthetic_stream
from fraudlog.ml.specs import score_one, spec_for
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay import backtest, replay
from fraudlog.replay.chunks import transaction_chunks
from fraudlog.replay.rebuild import rebuild
from fraudlog.replay.recompute import scoring_versions
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.engine import create_engine
from fraudlog.store.event_log import EventLog
from fraudlog.store.roles import assignment_table
from fraudlog.store.snapshot import read_only_snapshot
from tests.support.data import label_event, transaction_event_from_body

SECRET = b"bench-replay-secret"
WARMUP = 2_000  # history imported into the log to train the two versions on: replay walks it too
START = datetime(2026, 11, 1, tzinfo=UTC)


def populate(url: str, count: int) -> None:
    """Two versions, `count` transactions and labels for half of them, every transaction scored."""
    engine = create_engine(url)
    registry = ModelRegistry(engine, SECRET)
    warmup = list(synthetic_stream(WARMUP, seed=1, start=START - timedelta(days=30), cards=50))
    train_first_version(registry, warmup, spec_for("hst"))
    train_first_version(registry, warmup, spec_for("logreg"), promote=False)  # a challenger, on the same history
    rows = list(synthetic_stream(count, seed=7, start=START, cards=max(50, count // 40)))
    log = EventLog(engine)
    positions: list[int] = []
    for begin in range(0, count, 5_000):
        batch = rows[begin : begin + 5_000]
        [outcome] = log.append_transactions([[transaction_event_from_body(body) for body, _ in batch]],
                                            datetime.now(UTC))
        positions += [receipt.position for receipt in outcome.receipts]
        log.append_labels([[label_event(body["transaction_id"], y, START) for body, y in batch[: len(batch) // 2]]],
                          datetime.now(UTC))
    scorer = Scorer(engine, registry)
    for begin in range(0, len(positions), 1_000):
        scorer.score_positions(positions[begin : begin + 1_000])
    engine.dispose()


def bare_limit(url: str) -> Callable[[], int]:
    """The features and scores of every transaction, from memory: the work replay cannot avoid."""
    engine = create_engine(url)
    registry = ModelRegistry(engine, SECRET)
    with read_only_snapshot(engine) as conn:
        views = [tx for chunk in transaction_chunks(conn, 1, 10**12) for tx in chunk]
        table = assignment_table(conn, 10**12)
    assigned = {tx.position: scoring_versions(table.assignment_at(tx.position)) for tx in views}
    models = {v: registry.load(v) for versions in assigned.values() for v in versions}
    engine.dispose()

    def run() -> int:
        features = batch_features(views, [])
        for tx in views:
            for version in assigned[tx.position]:
                loaded = models[version]
                score_one(loaded.model, loaded.spec, features[tx.position])
        return len(views)

    return run


def measure(backend: str, count: int, repeats: int) -> dict[str, Any]:
    with fresh_database(backend) as db:
        url = db.url
        began = time.perf_counter()
        populate(url, count)
        setup = time.perf_counter() - began
        engine = create_engine(url)
        load_before = os.getloadavg()

        def run_replay() -> int:
            report = replay(engine, ModelRegistry(engine, SECRET))
            if not report.reproduced or report.transactions != count + WARMUP:
                raise RuntimeError(f"replay did not reproduce the log: {report.to_dict()}")
            return report.transactions

        def run_rebuild() -> int:
            with fresh_database(backend) as target:
                return rebuild(engine, target.url, SECRET).transactions

        bare = bare_limit(url)
        # Bare and replay alternate, so that a busy spell of a shared machine weighs on both alike; the ratio
        # is the median of each pair's ratio.
        pairs = [(run_once(bare), run_once(run_replay)) for _ in range(repeats)]
        backtests = [run_once(lambda: backtest(engine, ModelRegistry(engine, SECRET), 2).span.transactions)
                     for _ in range(repeats)]
        rebuilds = [run_once(run_rebuild) for _ in range(repeats)]
        engine.dispose()
    return {"backend": backend, "transactions": count, "setup_seconds": round(setup, 1),
            "bare": summary([b for b, _ in pairs]), "replay": summary([r for _, r in pairs]),
            "replay_over_bare": round(statistics.median(r[0] / b[0] for b, r in pairs), 3),
            "backtest": summary(backtests), "rebuild": summary(rebuilds),
            "load_average": [list(load_before), list(os.getloadavg())]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure; the median is reported")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = []
    print(f"{'backend':<9} {'bare/s':>8} {'replay/s':>9} {'ratio':>6} {'backtest/s':>11} {'rebuild s':>10}  load")
    for backend in backends:
        r = measure(backend, args.transactions, args.repeats)
        results.append(r)
        print(f"{backend:<9} {r['bare']['median_per_s']:>8,} {r['replay']['median_per_s']:>9,} "
              f"{r['replay_over_bare']:>6.0%} {r['backtest']['median_per_s']:>11,} "
              f"{r['rebuild']['median_seconds']:>10.1f}  {r['load_average'][0][0]:.1f}-{r['load_average'][1][0]:.1f}")
    out = write_results("replay", {"machine": machine_info(), "results": results})
    print(f"results: {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
