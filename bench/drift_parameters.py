"""How the performance detector's defaults were chosen: false alarms against detection delay, over seeds.

    PYTHONPATH=. python -m bench.drift_parameters [--seeds 3] [--jobs 2]

For each stream of `bench.drift_streams` and each seed, version 1 learns the first 20,000 transactions and
then serves, frozen; labels arrive 1,000 transactions late. Every variant of `PerformanceMonitor` reads the
same labelled stream. The table gives, per variant, the false alarms on the stationary streams (100,000
served transactions per seed) and the median delay (transactions after the change) on the streams that
change, with how many seeds detected at all.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace

from bench.drift import LABEL_DELAY, TRAIN, table, train
from bench.drift_streams import StreamSpec, generate
from fraudlog.ml.specs import score_one
from fraudlog.monitoring.drift import DriftParameters, PerformanceMonitor

STATIONARY = ("stationary", "stationary-weak")
CHANGING = ("abrupt", "partial", "mild", "gradual")
DEFAULTS = DriftParameters()
VARIANTS = {
    "defaults (30,100,300; 1e-5; 0.02)": DEFAULTS,
    "alpha 1e-3": replace(DEFAULTS, rank_alpha=1e-3),
    "alpha 1e-4": replace(DEFAULTS, rank_alpha=1e-4),
    "alpha 1e-6": replace(DEFAULTS, rank_alpha=1e-6),
    "no minimum fall": replace(DEFAULTS, min_drop=0.0),
    "minimum fall 0.05": replace(DEFAULTS, min_drop=0.05),
    "window 30 only": replace(DEFAULTS, rank_windows=(30,)),
    "window 300 only": replace(DEFAULTS, rank_windows=(300,)),
}

Labelled = list[tuple[int, float, bool]]


def labelled_stream(kind: str, seed: int, change: int, length: int) -> Labelled:
    rows = list(generate(StreamSpec(kind, length, None if kind in STATIONARY else change, seed=seed)))
    version = train(rows, 0, TRAIN, TRAIN, 1, "first")
    scores = [score_one(version.model, version.spec, rows[t][0]) for t in range(TRAIN, length)]
    return [(t, scores[t - LABEL_DELAY - TRAIN], rows[t - LABEL_DELAY][1])
            for t in range(TRAIN + LABEL_DELAY, length)]


def detections(stream: Labelled, parameters: DriftParameters) -> list[int]:
    monitor = PerformanceMonitor(parameters)
    return [t for t, score, fraud in stream if monitor.add(t, score, fraud) is not None]


def one_stream(kind: str, seed: int, change: int) -> tuple[str, dict[str, list[int]]]:
    length = TRAIN + 100_000 if kind in STATIONARY else 2 * change
    stream = labelled_stream(kind, seed, change, length)
    return kind, {name: detections(stream, parameters) for name, parameters in VARIANTS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--change", type=int, default=40_000)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    hits: dict[str, dict[str, list[list[int]]]] = {name: {} for name in VARIANTS}
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(one_stream, kind, seed, args.change)
                   for kind in STATIONARY + CHANGING for seed in range(1, args.seeds + 1)]
        for done, future in enumerate(as_completed(futures), 1):
            kind, found = future.result()
            for name, at in found.items():
                hits[name].setdefault(kind, []).append(at)
            print(f"{done}/{len(futures)} streams at {time.perf_counter() - started:.0f} s", flush=True)
    rows = []
    for name, by_kind in hits.items():
        row: dict[str, object] = {"variant": name}
        for kind in STATIONARY:
            row[kind] = sum(len(at) for at in by_kind[kind])
        for kind in CHANGING:
            delays = [next((t - args.change for t in at if t >= args.change), None) for at in by_kind[kind]]
            detected = [d for d in delays if d is not None]
            early = sum(1 for at in by_kind[kind] for t in at if t < args.change)
            median = f"{statistics.median(detected):,.0f}" if detected else "-"
            row[kind] = f"{median} ({len(detected)}/{len(delays)})" + (f", {early} early" if early else "")
        rows.append(row)
    print(f"\n{args.seeds} seeds; false alarms in {args.seeds} x 100,000 stationary transactions; "
          "median delay (seeds detected) after the change\n")
    print(table(rows, [("variant", "variant"), *[(k, f"{k}: false alarms") for k in STATIONARY],
                       *[(k, f"{k}: delay") for k in CHANGING]]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
