"""`fraudlog models quality V`: a version's quality over time, as `GET /v1/models/{v}/quality` shows it; with
`--by-source`, its labels and quality per label source, as `GET /v1/models/{v}/quality/sources` does.

The report's module (and the registry, River, behind it) is imported when the action runs, not for `--help`.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

import msgspec

from fraudlog.cli.context import open_store_to_read
from fraudlog.cli.output import prints_to_a_pipe, table_console

if TYPE_CHECKING:
    from rich.table import Table

    from fraudlog.views.quality import QualityBucket
    from fraudlog.views.source_quality import SourceQuality

TABLE_WIDTH = 140


def register(actions: Any) -> None:
    """Add `quality` to the `fraudlog models` actions."""
    quality = actions.add_parser("quality", help="a version's quality over time, per event-time bucket or every "
                                                 "N predictions, with how complete each bucket's labels are")
    quality.add_argument("version", type=int, help="the version number")
    cut = quality.add_mutually_exclusive_group()
    cut.add_argument("--bucket", default=None,
                     help="event time per bucket: 15m, 1h, 1d, 1w (default 1h)")
    cut.add_argument("--every", type=int, default=None, help="a bucket every N predictions instead")
    cut.add_argument("--by-source", action="store_true",
                     help="per label source instead: labels, frauds, effective and outranked, label delay, and the "
                          "version's figures on each source's verdicts")
    quality.add_argument("--limit", type=int, default=None, help="the newest buckets to show (default 200)")
    quality.add_argument("--json", action="store_true", help="print the report as JSON")
    quality.set_defaults(run=prints_to_a_pipe(_quality))


def _quality(args: argparse.Namespace) -> int:
    from rich.table import Table

    from fraudlog.views.quality import DEFAULT_LIMIT, quality_report

    if args.by_source:
        return _by_source(args)
    report = quality_report(open_store_to_read().registry, args.version, bucket=args.bucket, every=args.every,
                            limit=DEFAULT_LIMIT if args.limit is None else args.limit)
    if args.json:
        print(json.dumps(msgspec.to_builtins(report), indent=2))
        return 0
    cut = f"every {report.every:,} predictions" if report.every else f"per {report.bucket} of event time"
    console = table_console()
    console.width = max(console.width, TABLE_WIDTH)  # piped output defaults to 80 columns, too few for the table
    console.print(f"version {report.version} ({report.status}), threshold {report.threshold:.4g}, target alert rate "
                  f"{_percent(report.target_alert_rate)}; {cut}; log as of position {report.as_of.position}, "
                  f"newest event {report.as_of.event_time or '-'}, newest label {report.as_of.labeled_at or '-'}")
    if report.earlier_buckets:
        console.print(f"{report.earlier_buckets} earlier buckets not shown (--limit)")
    table = Table("bucket start", "scored", "labelled", "frauds", "ROC AUC", "AP", "recall", "precision",
                  "alerts", "Brier", "label age")
    for bucket in report.buckets:
        table.add_row(*_cells(bucket))
    console.print(table)
    if not report.buckets:
        console.print("no predictions of this version yet")
    return 0


def _by_source(args: argparse.Namespace) -> int:
    from fraudlog.views.source_quality import source_quality_report

    report = source_quality_report(open_store_to_read().registry, args.version)
    if args.json:
        print(json.dumps(msgspec.to_builtins(report), indent=2))
        return 0
    console = table_console()
    console.width = max(console.width, TABLE_WIDTH)
    console.print(f"version {report.version} ({report.status}), threshold {report.threshold:.4g}; the labels of "
                  f"the transactions it scored, per source; log as of position {report.as_of.position}")
    console.print(source_table(report.effective, report.sources, "labels and quality per label source"))
    return 0


def source_table(effective: SourceQuality, sources: list[SourceQuality], title: str) -> Table:
    """A row per source that gave a label, highest rank first, then the effective labels: what the loop learns."""
    from rich.table import Table

    table = Table("source", "labels", "frauds", "effective", "outranked (overruled)", "label delay p50 / p90",
                  "ROC AUC", "AP", "recall", "precision", title=title)
    for source in sources:
        if source.labels:
            table.add_row(*_source_cells(source))
    table.add_section()
    table.add_row(*_source_cells(effective))
    return table


def _source_cells(group: SourceQuality) -> list[str]:
    delay = group.delay_seconds
    return [group.source, f"{group.labels:,}", f"{group.frauds:,}",
            f"{group.effective:,} ({_percent(group.effective_share, 0)})",
            f"{group.outranked:,} ({group.overruled:,})",
            f"{_duration(delay.p50, 1)} / {_duration(delay.p90, 1)}", _figure(group.roc_auc),
            _figure(group.average_precision), _figure(group.recall), _figure(group.precision)]


def _cells(bucket: QualityBucket) -> list[str]:
    return [(bucket.start or "-")[:16].replace("T", " "), f"{bucket.scored:,}",
            f"{bucket.labelled:,} ({_percent(bucket.labelled_share, 0)})", f"{bucket.frauds:,}",
            _figure(bucket.roc_auc), _figure(bucket.average_precision), _figure(bucket.recall),
            _figure(bucket.precision), _percent(bucket.alert_rate), _figure(bucket.brier),
            _duration(bucket.newest_label_age_seconds)]


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _percent(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}%}"


def _duration(seconds: float | None, digits: int = 0) -> str:
    """`digits` for the seconds under a minute (the demo's label delays are a second or two)."""
    if seconds is None:
        return "-"
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.{digits}f} s"
