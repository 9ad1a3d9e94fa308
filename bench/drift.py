"""Drift detection and drift-triggered retraining on generated streams with known change points.

    PYTHONPATH=. python -m bench.drift [--length 80000] [--change 40000] [--svg docs/drift.svg]

Each stream (`bench.drift_streams`) has 20,000 transactions to train version 1 on, then is served in order
by the champion, frozen, with every label arriving 1,000 transactions after its transaction. In-process and
without a database (for speed), but with fraudlog's own pieces: the default model spec (logreg) trained by
`fraudlog.ml.training.fit`, the detectors of `fraudlog.monitoring.drift` with the defaults of `Settings`, and
the promotion policy of `fraudlog.lifecycle.promotion` (a new version scores in shadow until DeLong's test
on labelled transactions both scored says it ranks better).

Two tables:
1. **Detectors alone**, watching version 1 (never retrained): the first detection after the change
   (delay in transactions) and false alarms (detections before the change; per 100,000 on the stationary streams),
   ours against library detectors at their defaults and a detector that always fires.
2. **The loop**: served ROC AUC before the change (10,000 transactions), right after (the first 5,000),
   at the end (the last 10,000), and how many transactions after the change the served AUC (over 5,000
   transactions) is back within 0.02 of its level before, for: schedule-only retraining (every 10,000),
   drift-triggered retraining (plus the schedule), and an always-firing detector through the same loop.
"""

from __future__ import annotations

import argparse
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from river.drift import ADWIN, PageHinkley

from bench.drift_streams import KINDS, StreamSpec, generate
from fraudlog.lifecycle.promotion import PromotionPolicy, Shadow, decide
from fraudlog.ml.metrics import roc_auc
from fraudlog.ml.specs import ModelSpec, score_one, spec_for
from fraudlog.ml.training import TrainingData, calibrate, fit
from fraudlog.monitoring.drift import (
    SIGNAL_FEATURES,
    SIGNAL_SCORE,
    DistributionMonitor,
    DriftParameters,
    PerformanceMonitor,
)

TRAIN = 20_000  # transactions version 1 learns
LABEL_DELAY = 1_000
CHECK_EVERY = 1_000  # the drift job's period, in transactions
BASE_WINDOW = 10_000  # the window of every scheduled retrain (the harness's stand-in for the spec's)
SCHEDULE_EVERY = 10_000
COOLDOWN = 5_000  # no drift-triggered retrain within this many transactions of the last one
REFERENCE = 10_000  # calibration window: the newest transactions of the training window
RECOVERY_WINDOW = 5_000
RECOVERY_TOLERANCE = 0.02


def _spec(window: int) -> ModelSpec:
    # One pass instead of the default three: the harness trains a hundred versions; the ranking of the
    # policies is what it measures, and every policy trains the same way.
    return spec_for("logreg", window=window, passes=1)


@dataclass
class Version:
    number: int
    model: Any
    spec: ModelSpec
    threshold: float
    trained_at: int
    trigger: str


def train(rows: Sequence[tuple[dict[str, float], bool]], start: int, cut: int, known: int, number: int,
          trigger: str) -> Version:
    """A version trained on transactions [start, cut) with the labels known at `known` (older than it)."""
    data = TrainingData()
    for i in range(max(0, start), cut):
        data.append(rows[i][0], rows[i][1] if i < known else None)
    spec = _spec(cut - max(0, start))
    model, _ = fit(spec, data)
    threshold = calibrate(model, spec, data, 0.02, REFERENCE).threshold
    return Version(number, model, spec, threshold, cut, trigger)


# -- 1. detectors alone --------------------------------------------------------------------------------

Detector = Callable[[int, float, bool | None, dict[str, float]], bool]


def _detectors(v1: Version, rows: Sequence[tuple[dict[str, float], bool]], params: DriftParameters,
               ) -> dict[str, Detector]:
    reference = list(range(TRAIN - REFERENCE, TRAIN))
    ref_scores = [score_one(v1.model, v1.spec, rows[i][0]) for i in reference]
    ref_features = {name: [rows[i][0][name] for i in reference] for name in rows[0][0]}
    performance = PerformanceMonitor(params)
    score_psi = DistributionMonitor(SIGNAL_SCORE, {"score": ref_scores}, params)
    feature_psi = DistributionMonitor(SIGNAL_FEATURES, ref_features, params)
    adwin_rank, adwin_error = ADWIN(), ADWIN()
    # The former default: Page-Hinkley (mode "down") tolerating a fall of 0.1 per fraud, threshold 3.
    page_hinkley = PageHinkley(min_instances=30, delta=0.1, threshold=3.0, alpha=0.999, mode="down")
    legit: deque[float] = deque(maxlen=params.rank_reference)
    ph_legit: deque[float] = deque(maxlen=params.rank_reference)

    def fraud_rank(legit: deque[float], s: float, y: bool | None) -> float | None:
        """A labelled fraud's rank among the newest labelled legitimate scores (None for anything else)."""
        if y is None:
            return None
        if not y:
            legit.append(s)
            return None
        if len(legit) < params.min_reference:
            return None
        return sum(1 for v in legit if v < s) / len(legit)

    def ours_performance(t: int, s: float, y: bool | None, x: dict[str, float]) -> bool:
        return y is not None and performance.add(t, s, y) is not None

    def adwin_on_ranks(t: int, s: float, y: bool | None, x: dict[str, float]) -> bool:
        rank = fraud_rank(legit, s, y)
        if rank is None:
            return False
        adwin_rank.update(rank)
        return adwin_rank.drift_detected

    def page_hinkley_on_ranks(t: int, s: float, y: bool | None, x: dict[str, float]) -> bool:
        nonlocal page_hinkley
        rank = fraud_rank(ph_legit, s, y)
        if rank is None:
            return False
        page_hinkley.update(rank)
        if page_hinkley.drift_detected:
            page_hinkley = page_hinkley.clone()  # re-armed, as the detector that acts is
            return True
        return False

    def adwin_on_errors(t: int, s: float, y: bool | None, x: dict[str, float]) -> bool:
        if y is None:
            return False
        adwin_error.update(float((s >= v1.threshold) != y))
        return adwin_error.drift_detected

    def psi_scores(t: int, s: float, y: bool | None, x: dict[str, float]) -> bool:
        return y is None and score_psi.add(t, {"score": s}) is not None

    def psi_features(t: int, s: float, y: bool | None, x: dict[str, float]) -> bool:
        return y is None and feature_psi.add(t, x) is not None

    def always(t: int, s: float, y: bool | None, x: dict[str, float]) -> bool:
        return y is None and t % CHECK_EVERY == 0

    return {"Mann-Whitney on fraud ranks (ours, performance)": ours_performance,
            "Page-Hinkley on fraud ranks (delta 0.1, threshold 3)": page_hinkley_on_ranks,
            "ADWIN defaults on fraud ranks": adwin_on_ranks,
            "ADWIN defaults on 0/1 errors": adwin_on_errors,
            "PSI on scores (ours, score)": psi_scores,
            "PSI per feature (ours, features)": psi_features,
            "always fires (every check)": always}


def detectors_alone(kind: str, rows: list[tuple[dict[str, float], bool]], change: int | None,
                    params: DriftParameters) -> list[dict[str, Any]]:
    v1 = train(rows, 0, TRAIN, TRAIN, 1, "first")
    detectors = _detectors(v1, rows, params)
    hits: dict[str, list[int]] = {name: [] for name in detectors}
    served: list[float] = [0.0] * len(rows)
    for t in range(TRAIN, len(rows)):
        served[t] = score_one(v1.model, v1.spec, rows[t][0])
        for name, detector in detectors.items():
            if detector(t, served[t], None, rows[t][0]):
                hits[name].append(t)
        matured = t - LABEL_DELAY
        if matured >= TRAIN:
            for name, detector in detectors.items():
                if detector(t, served[matured], rows[matured][1], rows[matured][0]):
                    hits[name].append(t)
    results = []
    start = TRAIN
    for name, at in hits.items():
        before = [t for t in at if change is None or t < change]
        after = [t for t in at if change is not None and t >= change]
        span = (change if change is not None else len(rows)) - start
        results.append({"stream": kind, "detector": name,
                        "delay": (after[0] - change) if after and change is not None else None,
                        "false_alarms": len(before), "per_100k": 100_000 * len(before) / span})
    return results


# -- 2. the loop ---------------------------------------------------------------------------------------


@dataclass
class LoopPolicy:
    name: str
    on_drift: bool = False
    always: bool = False
    drift_window: int | None = None  # None: the base window; else the newest N transactions
    from_change: bool = False  # a drift retrain's window starts at the detection's estimate of the change
    catch_up: bool = False  # after a drift retrain, retrain again each time the data since the change doubles
    growing: bool = True  # scheduled retrains after a drift retrain start no earlier than its window


@dataclass
class LoopRun:
    served: list[float] = field(default_factory=list)
    detections: list[int] = field(default_factory=list)
    retrains: list[tuple[int, str]] = field(default_factory=list)
    promotions: list[tuple[int, int]] = field(default_factory=list)


def run_loop(rows: list[tuple[dict[str, float], bool]], policy: LoopPolicy, params: DriftParameters) -> LoopRun:
    run = LoopRun(served=[0.0] * len(rows))
    champion = train(rows, 0, TRAIN, TRAIN, 1, "first")
    challengers: dict[int, Version] = {}
    shadow: dict[int, dict[int, float]] = {}  # version -> transaction -> score
    champion_scores: dict[int, float] = {}
    monitor = PerformanceMonitor(params)
    promotion = PromotionPolicy()
    last_retrain, last_drift_retrain, window_floor, next_number = TRAIN, -COOLDOWN, 0, 2

    change_from: int | None = None
    catch_up_at: int | None = None  # when the next catch-up retrain is due

    def retrain(t: int, trigger: str, window: int | None) -> None:
        nonlocal last_retrain, next_number, window_floor, last_drift_retrain, catch_up_at
        start = t - (window or BASE_WINDOW)
        if trigger == "drift" and policy.from_change and change_from is not None:
            start = max(start, change_from)
        if trigger == "drift":
            window_floor, last_drift_retrain = start, t
        elif policy.growing:
            start = max(start, window_floor)
        since = t - window_floor
        catch_up_at = window_floor + 2 * since if policy.catch_up and 0 < since < BASE_WINDOW else None
        version = train(rows, start, t, t - LABEL_DELAY, next_number, trigger)
        challengers[version.number] = version
        shadow[version.number] = {}
        run.retrains.append((t, trigger))
        next_number += 1
        last_retrain = t

    for t in range(TRAIN, len(rows)):
        x = rows[t][0]
        run.served[t] = champion_scores[t] = score_one(champion.model, champion.spec, x)
        for number, version in challengers.items():
            shadow[number][t] = score_one(version.model, version.spec, x)
        matured = t - LABEL_DELAY
        if matured >= TRAIN and matured in champion_scores:
            detection = monitor.add(t, champion_scores[matured], rows[matured][1], matured)
            if detection is not None:
                run.detections.append(t)
                change_from = detection.details.get("change_from")
        if (t + 1) % CHECK_EVERY:
            continue
        fired = policy.always or (policy.on_drift and run.detections and run.detections[-1] > t - CHECK_EVERY)
        if fired and t - last_drift_retrain >= COOLDOWN:
            retrain(t + 1, "drift", policy.drift_window)
        elif t + 1 - last_retrain >= SCHEDULE_EVERY or (catch_up_at is not None and t + 1 >= catch_up_at):
            retrain(t + 1, "schedule", None)
        promoted = _evaluate(rows, t, champion, challengers, shadow, champion_scores, promotion)
        if promoted is not None:
            champion = challengers.pop(promoted)
            champion_scores = shadow.pop(promoted)
            run.promotions.append((t, promoted))
            monitor = PerformanceMonitor(params)
    return run


def _evaluate(rows: list[tuple[dict[str, float], bool]], t: int, champion: Version, challengers: dict[int, Version],
              shadow: dict[int, dict[int, float]], champion_scores: dict[int, float],
              promotion: PromotionPolicy) -> int | None:
    shadows = []
    for number in challengers:
        matured = [i for i in shadow[number] if i <= t - LABEL_DELAY and i in champion_scores]
        shadows.append(Shadow(number, [champion_scores[i] for i in matured], [shadow[number][i] for i in matured],
                              [rows[i][1] for i in matured]))
    promoted = None
    for decision in decide(promotion, champion.number, shadows):
        if decision.action == "promote":
            promoted = decision.version
        elif decision.action == "retire":
            challengers.pop(decision.version)
            shadow.pop(decision.version)
    return promoted


def _auc(rows: list[tuple[dict[str, float], bool]], served: list[float], start: int, stop: int) -> float:
    value = roc_auc(served[start:stop], [rows[i][1] for i in range(start, stop)])
    return float("nan") if value is None else value


def loop_summary(kind: str, rows: list[tuple[dict[str, float], bool]], change: int | None, policy: LoopPolicy,
                 run: LoopRun) -> dict[str, Any]:
    pivot = change if change is not None else (TRAIN + len(rows)) // 2
    before = _auc(rows, run.served, pivot - 10_000, pivot)
    recovered = None
    for start in range(pivot, len(rows) - RECOVERY_WINDOW + 1, CHECK_EVERY):
        if _auc(rows, run.served, start, start + RECOVERY_WINDOW) >= before - RECOVERY_TOLERANCE:
            recovered = start + RECOVERY_WINDOW - pivot
            break
    detections = [t for t in run.detections if change is not None and t >= change]
    false = [t for t in run.detections if change is None or t < change]
    return {"stream": kind, "policy": policy.name,
            "before": before, "right_after": _auc(rows, run.served, pivot, pivot + RECOVERY_WINDOW),
            # Per block of 2,000: a pooled AUC over scores of several versions compares incomparable scores.
            "after_20k": sum(_auc(rows, run.served, a, a + 2_000) for a in range(pivot, pivot + 20_000, 2_000)) / 10,
            "end": _auc(rows, run.served, len(rows) - 10_000, len(rows)),
            "recovered": recovered, "delay": (detections[0] - change) if detections and change else None,
            "false_alarms": len(false), "retrains": len(run.retrains),
            "drift_retrains": sum(1 for _, trigger in run.retrains if trigger == "drift"),
            "promotions": len(run.promotions)}


# -- output --------------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    lines = ["| " + " | ".join(title for _, title in columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(_cell(row[key]) for key, _ in columns) + " |" for row in rows]
    return "\n".join(lines)


def svg_plot(curves: dict[str, list[tuple[int, float]]], change: int, detections: list[int], title: str) -> str:
    """A small line plot by hand (matplotlib is not a dependency): served AUC over 5,000 transactions."""
    width, height, left, top = 720, 320, 50, 30
    xs = [x for points in curves.values() for x, _ in points]
    x0, x1 = min(xs), max(xs)

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (width - left - 20)

    def py(y: float) -> float:
        return top + (1.0 - (y - 0.5) / 0.5) * (height - top - 40)

    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             'font-size="11">', f'<text x="{left}" y="16">{title}</text>']
    for y in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        parts.append(f'<line x1="{left}" x2="{width - 20}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 30}" y="{py(y) + 4:.1f}">{y:.1f}</text>')
    parts.append(f'<line x1="{px(change):.1f}" x2="{px(change):.1f}" y1="{top}" y2="{height - 40}" stroke="#000" '
                 'stroke-dasharray="4 3"/>')
    for at in detections:
        parts.append(f'<path d="M{px(at):.1f} {height - 40} l-4 8 h8 z" fill="#d62728"/>')
    for points, colour in zip(curves.values(), colours, strict=False):
        path = " ".join(f"{'M' if i == 0 else 'L'}{px(x):.1f} {py(y):.1f}" for i, (x, y) in enumerate(points))
        parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.6"/>')
    for i, (name, colour) in enumerate(zip(curves, colours, strict=False)):
        parts.append(f'<text x="{left + 10 + 230 * i}" y="{height - 8}" fill="{colour}">{name}</text>')
    parts.append(f'<text x="{width - 260}" y="{height - 24}">dashed: the change; triangles: drift detections</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def curve(rows: list[tuple[dict[str, float], bool]], served: list[float]) -> list[tuple[int, float]]:
    return [(start + RECOVERY_WINDOW, _auc(rows, served, start, start + RECOVERY_WINDOW))
            for start in range(TRAIN, len(rows) - RECOVERY_WINDOW + 1, CHECK_EVERY)]


POLICIES = [
    LoopPolicy("schedule only"),
    LoopPolicy("drift + schedule, window 5,000", on_drift=True, drift_window=5_000),
    LoopPolicy("drift + schedule, from the change", on_drift=True, drift_window=BASE_WINDOW, from_change=True),
    LoopPolicy("drift + catch-up, from the change", on_drift=True, drift_window=BASE_WINDOW, from_change=True,
               catch_up=True),
    LoopPolicy("drift + schedule, full window", on_drift=True, drift_window=None, growing=False),
    LoopPolicy("always fires, window 5,000", always=True, drift_window=5_000),
]


def run_kind(kind: str, length: int, change: int, stationary_length: int, seed: int,
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, list[tuple[int, float]]], list[int]]:
    """Both tables' rows for one stream, and (for `abrupt`) the plot's curves and detections."""
    params = DriftParameters()
    stationary = kind.startswith("stationary")
    spec = StreamSpec(kind, stationary_length if stationary else length, None if stationary else change, seed=seed)
    rows = list(generate(spec))
    alone = detectors_alone(kind, rows, spec.change, params)
    loop, plot, plot_detections = [], {}, []
    for policy in POLICIES:
        run = run_loop(rows, policy, params)
        loop.append(loop_summary(kind, rows, spec.change, policy, run))
        if kind == "abrupt" and policy.name in (POLICIES[0].name, POLICIES[3].name, POLICIES[5].name):
            plot[policy.name] = curve(rows, run.served)
            if policy.on_drift:
                plot_detections = run.detections
    return alone, loop, plot, plot_detections


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--length", type=int, default=80_000)
    parser.add_argument("--change", type=int, default=40_000)
    parser.add_argument("--stationary-length", type=int, default=TRAIN + 100_000)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=1, help="streams run at once, one process each")
    parser.add_argument("--svg", default="", help="write the abrupt stream's served-AUC plot here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    alone, loop = [], []
    plot: dict[str, list[tuple[int, float]]] = {}
    plot_detections: list[int] = []
    kinds = args.kinds.split(",")
    with ProcessPoolExecutor(max(1, args.jobs)) as pool:
        futures = {pool.submit(run_kind, kind, args.length, args.change, args.stationary_length, args.seed): kind
                   for kind in kinds}
        results = {}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            print(f"{futures[future]}: done at {time.perf_counter() - started:.0f} s", flush=True)
    for kind in kinds:
        kind_alone, kind_loop, kind_plot, kind_detections = results[kind]
        alone += kind_alone
        loop += kind_loop
        if kind_plot:
            plot, plot_detections = kind_plot, kind_detections
    print(f"\nseed {args.seed}")
    print("\n## Detectors alone (version 1 watched, never retrained)\n")
    print(table(alone, [("stream", "stream"), ("detector", "detector"), ("delay", "delay (tx)"),
                        ("false_alarms", "false alarms before change"), ("per_100k", "per 100,000")]))
    print("\n## The loop (labels 1,000 transactions late)\n")
    print(table(loop, [("stream", "stream"), ("policy", "policy"), ("before", "AUC before"),
                       ("right_after", "AUC first 5,000 after"), ("after_20k", "mean AUC first 20,000 after"),
                       ("end", "AUC last 10,000"),
                       ("recovered", "back within 0.02 after (tx)"), ("delay", "detection delay (tx)"),
                       ("false_alarms", "false alarms"), ("retrains", "retrains"),
                       ("drift_retrains", "of which drift"), ("promotions", "promotions")]))
    if args.svg and plot:
        with open(args.svg, "w", encoding="utf-8") as out:
            out.write(svg_plot(plot, args.change, plot_detections,
                               "abrupt concept change: served ROC AUC over the last 5,000 transactions"))
        print(f"\nplot: {args.svg}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
