"""The quality figures: each formula checked by hand, and the buckets cut as documented (docs/quality.md)."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fraudlog.ml.metrics import roc_auc
from fraudlog.ml.quality import (
    AsOf,
    CountBuckets,
    InvalidBucketing,
    LabelledScore,
    TimeBuckets,
    count_quality,
    parse_bucket,
    summarise,
    time_quality,
)
from fraudlog.ml.quality_metrics import average_precision, brier_score, precision_at, recall_at

T0 = datetime(2026, 11, 1, tzinfo=UTC)
# Four labelled predictions; at threshold 0.9, two alerts (0.95 fraud, 0.92 legitimate) and a missed fraud (0.60).
SCORES = [0.95, 0.92, 0.60, 0.30]
FRAUD = [True, False, True, False]


def row(position: int, minutes: float, score: float, is_fraud: bool | None, labeled_minutes: float | None = None,
        threshold: float = 0.5) -> LabelledScore:
    labeled_at = None if is_fraud is None else T0 + timedelta(minutes=labeled_minutes or minutes + 30)
    return LabelledScore(position, T0 + timedelta(minutes=minutes), score, threshold, is_fraud, labeled_at)


def test_the_figures_of_a_small_bucket_are_the_ones_computed_by_hand() -> None:
    # Pairs (fraud, legitimate) ranked right: (0.95, 0.92), (0.95, 0.30), (0.60, 0.30); wrong: (0.60, 0.92).
    assert roc_auc(SCORES, FRAUD) == 3 / 4
    # From the top: 0.95 is a fraud (precision 1, recall 1/2), 0.92 is not, 0.60 is (precision 2/3, recall 1).
    assert average_precision(SCORES, FRAUD) == pytest.approx(1 / 2 * 1 + 1 / 2 * 2 / 3)
    assert precision_at(SCORES, FRAUD, 0.9) == 1 / 2 and recall_at(SCORES, FRAUD, 0.9) == 1 / 2
    assert precision_at(SCORES, FRAUD, 0.5) == 2 / 3 and recall_at(SCORES, FRAUD, 0.5) == 1
    assert brier_score(SCORES, FRAUD) == pytest.approx((0.05**2 + 0.92**2 + 0.40**2 + 0.30**2) / 4)


def test_tied_scores_are_one_threshold_whatever_their_order() -> None:
    assert average_precision([0.5, 0.5], [True, False]) == average_precision([0.5, 0.5], [False, True]) == 0.5
    assert average_precision([0.9, 0.5, 0.5], [False, True, True]) == pytest.approx(2 / 3)


def brute_force_average_precision(scores: list[float], labels: list[bool]) -> float:
    """The definition, literally: at each distinct score, precision times the recall gained."""
    frauds = sum(labels)
    total, previous_recall = 0.0, 0.0
    for threshold in sorted(set(scores), reverse=True):
        called = [y for s, y in zip(scores, labels, strict=True) if s >= threshold]
        recall = sum(called) / frauds
        total += (recall - previous_recall) * (sum(called) / len(called))
        previous_recall = recall
    return total


@given(st.lists(st.tuples(st.sampled_from([0.1, 0.2, 0.5, 0.7, 0.9]), st.booleans()), min_size=1, max_size=40))
def test_average_precision_follows_its_definition(pairs: list[tuple[float, bool]]) -> None:
    scores, labels = [s for s, _ in pairs], [y for _, y in pairs]
    if not any(labels):
        assert average_precision(scores, labels) is None
        return
    assert average_precision(scores, labels) == pytest.approx(brute_force_average_precision(scores, labels))


def test_undefined_figures_are_none_never_zero() -> None:
    assert average_precision([0.3, 0.4], [False, False]) is None
    assert recall_at([0.3], [False], 0.5) is None
    assert precision_at([0.3], [True], 0.5) is None  # nothing called fraud
    assert brier_score([], []) is None
    with pytest.raises(ValueError, match="NaN"):
        average_precision([float("nan")], [True])


def test_a_bucket_with_one_class_has_no_roc_auc_and_says_why() -> None:
    as_of = AsOf(9, T0 + timedelta(hours=5), T0 + timedelta(hours=6))
    legit = summarise([row(1, 0, 0.2, False), row(2, 1, 0.7, False)], as_of, start=T0, end=T0 + timedelta(hours=1))
    assert legit.roc_auc is None and legit.average_precision is None and legit.recall is None
    assert "ROC AUC needs a fraud too" in legit.null_because["roc_auc"]
    assert legit.precision == 0.0 and legit.brier == pytest.approx((0.2**2 + 0.7**2) / 2)
    frauds = summarise([row(1, 0, 0.2, True)], as_of, start=T0, end=T0 + timedelta(hours=1))
    assert frauds.roc_auc is None and "needs a legitimate one too" in frauds.null_because["roc_auc"]
    assert frauds.recall == 0.0 and frauds.average_precision == 1.0


def test_completeness_is_measured_on_the_logs_own_clocks() -> None:
    as_of = AsOf(9, T0 + timedelta(hours=5), T0 + timedelta(hours=6))
    rows = [row(1, 0, 0.2, False, labeled_minutes=90), row(2, 10, 0.9, None), row(3, 20, 0.6, None),
            row(4, 30, 0.1, True, labeled_minutes=120)]
    bucket = summarise(rows, as_of, start=T0, end=T0 + timedelta(hours=1))
    assert (bucket.scored, bucket.labelled, bucket.frauds, bucket.alerts) == (4, 2, 1, 2)
    assert bucket.labelled_share == 0.5 and bucket.alert_rate == 0.5
    assert bucket.newest_label_at == T0 + timedelta(minutes=120)
    assert bucket.newest_label_age_seconds == 4 * 3600  # to the log's newest label, 6 h after T0
    assert bucket.event_age_seconds == 4 * 3600  # from the bucket's end to the log's newest transaction


def test_time_buckets_are_aligned_on_the_epoch_and_keep_empty_buckets() -> None:
    buckets = TimeBuckets(parse_bucket("1h"))
    rows = [row(1, 5, 0.9, True), row(2, 50, 0.1, False), row(3, 185, 0.4, None)]
    window = buckets.window(rows[0].event_time, rows[-1].event_time, limit=10)
    as_of = AsOf(3, rows[-1].event_time, None)
    figures = time_quality(rows, buckets, window, as_of)
    assert [(f.start, f.scored) for f in figures] == [(T0 + timedelta(hours=h), n) for h, n in
                                                      [(0, 2), (1, 0), (2, 0), (3, 1)]]
    assert figures[1].roc_auc is None and figures[1].null_because["alert_rate"].startswith("no prediction")
    assert figures[0].roc_auc == 1.0 and figures[3].labelled_share == 0.0
    assert figures[3].event_age_seconds == 0.0  # still open: no time yet for its labels
    newest_two = buckets.window(rows[0].event_time, rows[-1].event_time, limit=2)
    assert [buckets.start(i) for i in newest_two] == [T0 + timedelta(hours=2), T0 + timedelta(hours=3)]


def test_count_buckets_cut_every_n_predictions_in_log_order_the_newest_partial() -> None:
    rows = [row(p, p, random.Random(p).random(), p % 3 == 0) for p in range(1, 11)]
    counted = CountBuckets(4)
    assert counted.window(len(rows), limit=10) == range(0, 3)
    assert counted.window(len(rows), limit=2) == range(1, 3) and counted.skipped(range(1, 3)) == 4
    figures = count_quality(rows, counted, AsOf(10, rows[-1].event_time, None))
    assert [(f.first_position, f.last_position, f.scored) for f in figures] == [(1, 4, 4), (5, 8, 4), (9, 10, 2)]


@pytest.mark.parametrize("text", ["0h", "1", "h", "1y", "1.5h", "12345m", " 1h", "1h\n", "400d"])
def test_a_bucket_width_is_a_whole_number_and_a_unit_up_to_366_days(text: str) -> None:
    with pytest.raises(InvalidBucketing):
        parse_bucket(text)


def test_bucket_widths_parse_to_their_durations() -> None:
    assert [parse_bucket(t) for t in ("15m", "1h", "1d", "2w", "30s")] == [
        timedelta(minutes=15), timedelta(hours=1), timedelta(days=1), timedelta(weeks=2), timedelta(seconds=30)]


def test_summaries_do_not_depend_on_the_order_of_rows() -> None:
    rows = [row(p, p, s, y) for p, (s, y) in enumerate(itertools.product([0.1, 0.5, 0.9], [True, False]), 1)]
    as_of = AsOf(6, T0, T0)
    assert summarise(rows, as_of, start=T0, end=T0) == summarise(rows[::-1], as_of, start=T0, end=T0)
