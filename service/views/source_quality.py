"""`GET /v1/models/{version}/quality/sources` and `fraudlog models quality V --by-source`: a version's labels and
quality per label source (docs/outcomes.md, "Quality per label source"); the same for the champions'
predictions pooled, which the demo shows.

A function of the log: the label events and the predictions (rebuilt from it), and the log's frontier.
"""

from __future__ import annotations

import msgspec
from sqlalchemy.engine import Engine

from fraudlog.ml.source_quality import SourceFigures, by_source
from fraudlog.models.registry import ModelRegistry
from fraudlog.responses.quality import QualityAsOf
from fraudlog.responses.statuses import ModelStatus
from fraudlog.store.quality import log_as_of, scored_label_events
from fraudlog.store.snapshot import read_only_snapshot
from fraudlog.store.stats import percentiles
from fraudlog.views.quality import quality_as_of, version_status

# The figures of the version judged on a group's labels that mean something there (the rest of a quality
# bucket, such as the alert rate, describes the predictions, not the labels).
JUDGED = ("roc_auc", "average_precision", "recall", "precision")


class LabelDelay(msgspec.Struct, kw_only=True):
    """Seconds from the transaction's event time to its label's `labeled_at` (nearest rank; null: no label)."""

    p50: float | None
    p90: float | None


class SourceQuality(msgspec.Struct, kw_only=True):
    """One label source's labels on the version's predictions, and the version judged on them.

    `labels`: transactions the source labelled (its latest label on each); `frauds`: of those, called fraud by
    it; `effective`: labels the precedence rule made effective, `outranked` the others, `overruled` those
    outranked by a label with the other verdict; `effective_share` = effective / labels. `roc_auc`,
    `average_precision`, `recall` and `precision` judge the version's scores on this source's verdicts;
    `null_because` says why one is null. The group `effective` holds the effective labels, what training and
    every other quality figure use."""

    source: str
    labels: int
    frauds: int
    effective: int
    outranked: int
    overruled: int
    effective_share: float | None
    delay_seconds: LabelDelay
    roc_auc: float | None
    average_precision: float | None
    recall: float | None
    precision: float | None
    null_because: dict[str, str]


class LabelSourcesQuality(msgspec.Struct, kw_only=True):
    """The effective labels, then each source from the highest rank (chargeback, analyst, customer, import,
    api), every one listed, with zeros where it gave no label."""

    as_of: QualityAsOf
    effective: SourceQuality
    sources: list[SourceQuality]


class SourceQualityReport(msgspec.Struct, kw_only=True):
    """A version's labels and quality per label source, on the transactions it scored."""

    version: int
    status: ModelStatus
    threshold: float
    as_of: QualityAsOf
    effective: SourceQuality
    sources: list[SourceQuality]


def source_quality_report(registry: ModelRegistry, version: int) -> SourceQualityReport:
    """The version's figures per label source (raises `UnknownVersion`)."""
    record = registry.get(version)
    figures = label_sources_quality(registry.engine, version)
    return SourceQualityReport(version=version, status=version_status(registry, version),
                               threshold=record.threshold, as_of=figures.as_of, effective=figures.effective,
                               sources=figures.sources)


def label_sources_quality(engine: Engine, version: int | None) -> LabelSourcesQuality:
    """Per label source, on the predictions of `version`, or of the champions (None: what customers got)."""
    with read_only_snapshot(engine) as conn:  # the frontier and the rows of one instant
        as_of = log_as_of(conn)
        rows = scored_label_events(conn, version)
    effective, sources = by_source(rows, as_of)
    return LabelSourcesQuality(as_of=quality_as_of(as_of), effective=source_quality(effective),
                               sources=[source_quality(figures) for figures in sources])


def source_quality(figures: SourceFigures) -> SourceQuality:
    delays = percentiles(list(figures.delays), (50, 90))
    quality = figures.quality
    return SourceQuality(
        source=figures.source, labels=figures.labels, frauds=figures.frauds, effective=figures.effective,
        outranked=figures.outranked, overruled=figures.overruled,
        effective_share=figures.effective / figures.labels if figures.labels else None,
        delay_seconds=LabelDelay(p50=delays["p50"], p90=delays["p90"]), roc_auc=quality.roc_auc,
        average_precision=quality.average_precision, recall=quality.recall, precision=quality.precision,
        null_because=({name: why for name, why in quality.null_because.items() if name in JUDGED}
                      if figures.labels else dict.fromkeys(JUDGED, f"no {figures.source} label on its predictions")))
