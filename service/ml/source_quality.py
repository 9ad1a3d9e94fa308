"""A version's quality per label source, and how late each source's labels come. Pure.

The truth about a transaction comes from several sources (customer, analyst, chargeback, import, api) that
disagree and arrive at different times (docs/outcomes.md). Per source, over the transactions the version
scored: how many it labelled and how many of those it called fraud; how many of its labels the precedence
rule made effective and how many it outranked (`overruled`: outranked by a label with the other verdict, such
as a chargeback contradicting a customer's "it was me"); how long after the payment its labels became known
(`labeled_at - event_time`); and the version's figures judged on that source's verdicts alone.

A source's label of a transaction is its latest one there (a source corrects itself, as the rule says among
labels of one rank); the effective label is the rule's (`fraudlog.domain.label_sources.effective_key`), applied
here to every label event of the transaction, so the figures are a function of the log's label events.

The figures of each group are `fraudlog.ml.quality.summarise`'s, which knows nothing of how its rows were grouped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from fraudlog.domain.label_sources import LABEL_SOURCES, RANK, effective_key
from fraudlog.ml.quality import AsOf, BucketQuality, LabelledScore, summarise

# Highest rank first, as the precedence rule reads (chargeback > analyst > customer > api = import).
SOURCE_ORDER = tuple(sorted(LABEL_SOURCES, key=lambda source: -RANK[source]))
EFFECTIVE = "effective"  # the group of the effective labels: what training and every other figure use


class ScoredLabel(NamedTuple):
    """One label event (a `label` or an `alert_outcome`) on a transaction the version scored, with its score."""

    transaction_id: str
    position: int  # the label event's
    source: str
    is_fraud: bool
    labeled_at: datetime
    event_time: datetime  # the transaction's
    score: float
    threshold: float


@dataclass(frozen=True)
class SourceFigures:
    """One source's labels on the version's predictions (or the effective labels, `source` EFFECTIVE)."""

    source: str
    labels: int
    frauds: int
    effective: int
    overruled: int
    delays: tuple[float, ...]  # seconds from each label's transaction's event time to its labeled_at
    quality: BucketQuality  # the version's figures judged on this group's verdicts

    @property
    def outranked(self) -> int:
        return self.labels - self.effective


def by_source(rows: Sequence[ScoredLabel], as_of: AsOf) -> tuple[SourceFigures, list[SourceFigures]]:
    """The effective labels' figures, then each source's in `SOURCE_ORDER` (every source, labelled or not)."""
    latest: dict[tuple[str, str], ScoredLabel] = {}  # (transaction, source) -> its latest label of that source
    effective: dict[str, ScoredLabel] = {}
    for row in rows:
        held = latest.get((row.transaction_id, row.source))
        if held is None or row.position > held.position:
            latest[row.transaction_id, row.source] = row
        best = effective.get(row.transaction_id)
        if best is None or effective_key(row.source, row.position) > effective_key(best.source, best.position):
            effective[row.transaction_id] = row
    grouped: dict[str, list[ScoredLabel]] = defaultdict(list)
    for (_, source), row in sorted(latest.items(), key=lambda item: item[1].position):
        grouped[source].append(row)
    winners = list(effective.values())
    return (_figures(EFFECTIVE, winners, effective, as_of),
            [_figures(source, grouped.get(source, []), effective, as_of) for source in SOURCE_ORDER])


def _figures(source: str, labels: list[ScoredLabel], effective: dict[str, ScoredLabel], as_of: AsOf,
             ) -> SourceFigures:
    winners = [effective[row.transaction_id] for row in labels]
    return SourceFigures(
        source=source, labels=len(labels), frauds=sum(row.is_fraud for row in labels),
        effective=sum(row.position == winner.position for row, winner in zip(labels, winners, strict=True)),
        overruled=sum(row.is_fraud != winner.is_fraud for row, winner in zip(labels, winners, strict=True)),
        delays=tuple((row.labeled_at - row.event_time).total_seconds() for row in labels),
        quality=summarise([LabelledScore(row.position, row.event_time, row.score, row.threshold, row.is_fraud,
                                         row.labeled_at) for row in labels], as_of, start=None, end=None))
