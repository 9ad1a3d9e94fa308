"""A model version's quality over time, with the truth arriving late.

The predictions of one version are cut into buckets, either by event time (`TimeBuckets`: `1h`, `1d`, ...,
aligned on the Unix epoch in UTC so every reader cuts the same buckets) or by count (`CountBuckets`: every N
predictions of the version, in log order). Each bucket is summarised by `summarise`: transactions scored,
labels arrived so far, frauds, ROC AUC, average precision, recall and precision at the version's threshold,
the alert rate, the Brier score, and how complete its labels are.

Labels come late (a chargeback weeks after the payment), so a recent bucket is judged on the few labels that
have arrived; it says so rather than pass for a verdict: `labelled_share` is the share of its predictions that
have a label, and two ages tell how far its truth may still move. Both are measured on the log's own clocks,
never the wall clock, so the same log gives the same report today, tomorrow and after a rebuild:
- `newest_label_age_seconds`: from the bucket's newest label to the log's newest label (`AsOf.labeled_at`);
- `event_age_seconds`: from the bucket's end to the log's newest transaction (`AsOf.event_time`): how long
  its labels have had to arrive.

Everything here is a pure function of `LabelledScore` rows (a prediction and its label as the projections
hold them, both rebuilt from the log), so replay reproduces every figure (invariant 14, docs/INVARIANTS.md).

A label `source` dimension (issue 29: customer, analyst, chargeback, ...) fits without changing `summarise`:
it knows nothing of how its rows were grouped, so a per-source view groups rows by (bucket, source) and
summarises each group.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from fraudlog.ml.metrics import roc_auc
from fraudlog.ml.quality_metrics import average_precision, brier_score, precision_at, recall_at

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
BUCKET_UNITS = {"s": timedelta(seconds=1), "m": timedelta(minutes=1), "h": timedelta(hours=1),
                "d": timedelta(days=1), "w": timedelta(weeks=1)}
BUCKET_PATTERN = r"\A[1-9][0-9]{0,3}[smhdw]\Z"
# A year is the widest bucket that still shows a change over time; wider would also overflow datetime's
# range for events near its end.
MAX_BUCKET = timedelta(days=366)


class InvalidBucketing(ValueError):
    """A bucket width or count that cannot cut buckets; the message says what is accepted."""


def parse_bucket(text: str) -> timedelta:
    """`15m`, `1h`, `1d`, `2w`... as a width: 1 to 9999 of s, m, h, d or w, at most 366 days."""
    if not re.match(BUCKET_PATTERN, text):
        raise InvalidBucketing(f"{text!r} is not a bucket width: a whole number and a unit s, m, h, d or w "
                               "(15m, 1h, 1d)")
    width = int(text[:-1]) * BUCKET_UNITS[text[-1]]
    if width > MAX_BUCKET:
        raise InvalidBucketing(f"{text!r} is wider than {MAX_BUCKET.days} days")
    return width


class LabelledScore(NamedTuple):
    """One prediction of the version and its label so far (`is_fraud` None: no label has arrived)."""

    position: int
    event_time: datetime
    score: float
    threshold: float
    is_fraud: bool | None
    labeled_at: datetime | None


@dataclass(frozen=True)
class AsOf:
    """Where the log stands: its last position, newest transaction event time and newest label time."""

    position: int | None
    event_time: datetime | None
    labeled_at: datetime | None


@dataclass(frozen=True)
class BucketQuality:
    """One bucket's figures; a figure that is not defined on its data is None, and `null_because` says why."""

    start: datetime | None
    end: datetime | None
    first_position: int | None
    last_position: int | None
    scored: int
    labelled: int
    frauds: int
    alerts: int
    labelled_share: float | None
    newest_label_at: datetime | None
    newest_label_age_seconds: float | None
    event_age_seconds: float | None
    roc_auc: float | None
    average_precision: float | None
    recall: float | None
    precision: float | None
    alert_rate: float | None
    brier: float | None
    null_because: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TimeBuckets:
    """Buckets of event time `width` wide, bucket k covering [EPOCH + k*width, EPOCH + (k+1)*width)."""

    width: timedelta

    def index(self, moment: datetime) -> int:
        return ((moment - EPOCH) // MICROSECOND) // (self.width // MICROSECOND)

    def start(self, index: int) -> datetime:
        return EPOCH + index * self.width

    def end(self, index: int) -> datetime:
        try:
            return self.start(index) + self.width
        except OverflowError:  # the last bucket before year 10000
            return datetime.max.replace(tzinfo=UTC)

    def window(self, oldest: datetime, newest: datetime, limit: int) -> range:
        """The indexes of the newest `limit` buckets from `oldest` to `newest`, empty ones included."""
        last = self.index(newest)
        return range(max(self.index(oldest), last - limit + 1), last + 1)


@dataclass(frozen=True)
class CountBuckets:
    """Buckets of `every` consecutive predictions of the version in log order; the newest may be partial."""

    every: int

    def window(self, count: int, limit: int) -> range:
        """The indexes of the newest `limit` buckets of `count` predictions."""
        total = math.ceil(count / self.every)
        return range(max(0, total - limit), total)

    def skipped(self, window: range) -> int:
        """How many predictions come before the window's first bucket."""
        return window.start * self.every


def time_quality(rows: Sequence[LabelledScore], buckets: TimeBuckets, window: range, as_of: AsOf,
                 ) -> list[BucketQuality]:
    """One summary per bucket of `window`, oldest first; a bucket without predictions is there, empty."""
    grouped: dict[int, list[LabelledScore]] = defaultdict(list)
    for row in rows:
        index = buckets.index(row.event_time)
        if index in window:
            grouped[index].append(row)
    return [summarise(grouped.get(index, []), as_of, start=buckets.start(index), end=buckets.end(index))
            for index in window]


def count_quality(rows: Sequence[LabelledScore], buckets: CountBuckets, as_of: AsOf) -> list[BucketQuality]:
    """`rows` (in log order, starting at a bucket's first prediction) cut every `buckets.every`, oldest first."""
    chunks = [rows[begin:begin + buckets.every] for begin in range(0, len(rows), buckets.every)]
    return [summarise(chunk, as_of, start=min(r.event_time for r in chunk), end=max(r.event_time for r in chunk))
            for chunk in chunks]


def summarise(rows: Sequence[LabelledScore], as_of: AsOf, *, start: datetime | None, end: datetime | None,
              ) -> BucketQuality:
    """The figures of one group of predictions, judged on the labels that have arrived."""
    labelled = [row for row in rows if row.is_fraud is not None]
    scores = [row.score for row in labelled]
    truths = [bool(row.is_fraud) for row in labelled]
    thresholds = [row.threshold for row in labelled]
    frauds = sum(truths)
    alerts = sum(row.score >= row.threshold for row in rows)
    newest_label = max((row.labeled_at for row in labelled if row.labeled_at is not None), default=None)
    return BucketQuality(
        start=start, end=end,
        first_position=min((row.position for row in rows), default=None),
        last_position=max((row.position for row in rows), default=None),
        scored=len(rows), labelled=len(labelled), frauds=frauds, alerts=alerts,
        labelled_share=len(labelled) / len(rows) if rows else None,
        newest_label_at=newest_label,
        newest_label_age_seconds=_seconds_between(newest_label, as_of.labeled_at),
        event_age_seconds=_age(end, as_of.event_time) if rows else None,
        roc_auc=roc_auc(scores, truths) if labelled else None,
        average_precision=average_precision(scores, truths),
        recall=recall_at(scores, truths, thresholds),
        precision=precision_at(scores, truths, thresholds),
        alert_rate=alerts / len(rows) if rows else None,
        brier=brier_score(scores, truths),
        null_because=_null_because(len(rows), len(labelled), frauds, sum(s >= t for s, t in zip(
            scores, thresholds, strict=True))),
    )


def _null_because(scored: int, labelled: int, frauds: int, called: int) -> dict[str, str]:
    """Why each figure that is None is None, in words an analyst reads on the dashboard."""
    if scored == 0:
        return dict.fromkeys(("roc_auc", "average_precision", "recall", "precision", "alert_rate", "brier"),
                             "no prediction of this version in the bucket")
    if labelled == 0:
        return dict.fromkeys(("roc_auc", "average_precision", "recall", "precision", "brier"),
                             f"no label has arrived yet for its {scored} predictions")
    reasons = {}
    if frauds == 0:
        reasons["roc_auc"] = f"only legitimate labels so far ({labelled}): ROC AUC needs a fraud too"
        reasons["average_precision"] = reasons["recall"] = f"no fraud among its {labelled} labels"
    elif frauds == labelled:
        reasons["roc_auc"] = f"every label so far ({labelled}) is a fraud: ROC AUC needs a legitimate one too"
    if called == 0:
        reasons["precision"] = f"none of its {labelled} labelled predictions reached the threshold"
    return reasons


def _seconds_between(earlier: datetime | None, later: datetime | None) -> float | None:
    return None if earlier is None or later is None else (later - earlier).total_seconds()


def _age(end: datetime | None, newest: datetime | None) -> float | None:
    # A bucket still open (its end after the newest transaction) has had no time at all yet: 0, not negative.
    seconds = _seconds_between(end, newest)
    return None if seconds is None else max(0.0, seconds)
