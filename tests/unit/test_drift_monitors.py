"""The drift detectors on streams of scores with known change points (pure, fast).

Scores of legitimate transactions ~ N(0, 1), of frauds ~ N(2, 1) (ROC AUC about 0.92), 1.8 % fraud, each
label fed 1,000 transactions after its transaction as the drift job feeds them.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

from fraudlog.monitoring.drift import (
    SIGNAL_SCORE,
    Detection,
    DistributionMonitor,
    DriftParameters,
    PerformanceMonitor,
    bin_shares,
    detection_id,
    population_stability,
    quantile_edges,
)

DEFAULTS = DriftParameters()
DELAY = 1_000


def run_performance(n: int, change: int | None, parameters: DriftParameters, seed: int = 3,
                    found: list[Detection] | None = None) -> list[int]:
    rng = random.Random(seed)
    monitor = PerformanceMonitor(parameters)
    stream: list[tuple[float, bool]] = []
    fired = []
    for t in range(n):
        fraud = rng.random() < 0.018
        shift = 2.0 if change is None or t < change else 0.3
        stream.append((rng.gauss(shift if fraud else 0.0, 1.0), fraud))
        if t >= DELAY:
            score, label = stream[t - DELAY]
            detection = monitor.add(t, score, label, t - DELAY)
            if detection is not None:
                fired.append(t)
                if found is not None:
                    found.append(detection)
    return fired


def run_scores(n: int, shift_at: int | None, parameters: DriftParameters, seed: int = 5) -> list[int]:
    rng = random.Random(seed)
    monitor = DistributionMonitor(SIGNAL_SCORE, {"score": [rng.gauss(0, 1) for _ in range(10_000)]}, parameters)
    fired = []
    for t in range(n):
        mean = 1.0 if shift_at is not None and t >= shift_at else 0.0
        if monitor.add(t, {"score": rng.gauss(mean, 1)}) is not None:
            fired.append(t)
    return fired


def test_no_performance_detection_on_100000_stationary_transactions() -> None:
    assert run_performance(101_000, None, DEFAULTS) == []


def test_a_fall_in_roc_auc_is_detected_within_a_few_thousand_transactions_with_labels_1000_late() -> None:
    fired = run_performance(80_000, 40_000, DEFAULTS)
    assert fired and 40_000 < fired[0] <= 40_000 + 5_000


def test_a_detection_dates_the_change() -> None:
    """`change_from` (where a drift-triggered version's window may start) is the oldest transaction among the
    frauds of the window that fired: near the change (a window may hold a few frauds from before it), and
    before the detection."""
    found: list[Detection] = []
    fired = run_performance(80_000, 40_000, DEFAULTS, found=found)
    assert fired and found[0].signal == "performance"
    assert 40_000 - 2_000 <= found[0].details["change_from"] < fired[0] - DELAY
    assert found[0].details["recent_roc_auc"] < found[0].details["earlier_roc_auc"] - DEFAULTS.min_drop


def test_without_hysteresis_a_stationary_stream_alarms() -> None:
    """What the strict level and the minimum fall buy: at the textbook 5 % level, with no minimum fall and one
    short window, the test fires on the noise of a stationary stream."""
    bare = replace(DEFAULTS, rank_alpha=0.05, min_drop=0.0, rank_windows=(10,))
    assert run_performance(101_000, None, bare) != []


def test_no_score_detection_on_a_stationary_stream_and_one_on_a_shift() -> None:
    assert run_scores(100_000, None, DEFAULTS) == []
    fired = run_scores(60_000, 30_000, DEFAULTS)
    assert len(fired) == 1 and 30_000 < fired[0] <= 30_000 + 10_000  # fires once, then waits to re-arm


def test_psi_is_zero_for_the_reference_itself_and_grows_with_a_shift() -> None:
    rng = random.Random(1)
    reference = [rng.gauss(0, 1) for _ in range(10_000)]
    edges = quantile_edges(reference, 10)
    expected = bin_shares(edges, reference)
    assert population_stability(edges, expected, reference) < 1e-9
    small = population_stability(edges, expected, [rng.gauss(0.1, 1) for _ in range(5_000)])
    large = population_stability(edges, expected, [rng.gauss(1.0, 1) for _ in range(5_000)])
    assert small < DEFAULTS.psi_threshold < large
    assert math.isfinite(population_stability(edges, expected, [100.0] * 10))


def test_a_detection_id_depends_on_version_signal_and_position_only() -> None:
    assert detection_id(3, "performance", 120) == detection_id(3, "performance", 120)
    assert len({detection_id(3, "performance", 120), detection_id(4, "performance", 120),
                detection_id(3, "score", 120), detection_id(3, "performance", 121)}) == 4


def test_drift_settings_read_the_rank_windows_and_refuse_unknown_names() -> None:
    from fraudlog.domain.drift_settings import DriftSettings

    settings = DriftSettings.from_env({"FRAUDLOG_DRIFT_RANK_WINDOWS": "20, 200", "FRAUDLOG_DRIFT_CATCH_UP": "off"})
    assert settings.parameters.rank_windows == (20, 200) and settings.catch_up is False
    for env in ({"FRAUDLOG_DRIFT_PH_DELTA": "0.1"}, {"FRAUDLOG_DRIFT_RANK_WINDOWS": ","},
                {"FRAUDLOG_DRIFT_RANK_WINDOWS": "30,-1"}):
        try:
            DriftSettings.from_env(env)
        except ValueError as exc:
            assert "FRAUDLOG_DRIFT_" in str(exc)
        else:
            raise AssertionError(f"{env} was accepted")
