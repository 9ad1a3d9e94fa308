"""Operational figures read from the database, so every API process reports the same truth.

Back-pressure is measured, not guessed (invariant 10, docs/INVARIANTS.md): prediction latency is scored_at - event_time,
platform latency is scored_at - recorded_at, and the backlog is the count and age of unscored events.
ROC AUC is computed from raw scores per model version on the labels that have arrived (invariant 9).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraudlog.domain.events import EVENT_LABEL, EVENT_PROMOTION, EVENT_TRANSACTION
from fraudlog.ml.metrics import roc_auc
from fraudlog.store.backend import backend_for
from fraudlog.store.outbox import AlertCoverage, alert_coverage, count_by_status
from fraudlog.store.scoring_failures import champion_failed
from fraudlog.store.tables import alerts, events, labels, model_versions, predictions, scoring_failures

LATENCY_SAMPLE = 10_000
OLDEST_SEARCH_WINDOW = 200_000
THROUGHPUT_WINDOW = timedelta(seconds=60)


class BacklogFigures(TypedDict):
    """Transactions a champion should score and has not yet (`fraudlog.views.stats.Backlog` documents it)."""

    count: int
    oldest_age_seconds: float | None
    unassigned: int
    failed: int


class VersionQuality(TypedDict):
    """One version's predictions, alert rate at its threshold and ROC AUC on the labels arrived so far."""

    predictions: int
    alert_rate: float | None
    labels: int
    frauds: int
    roc_auc: float | None


class StatsFigures(TypedDict):
    """What `collect_stats` reads: `GET /v1/stats` (`fraudlog.views.stats.Stats`), plus what `/metrics` adds."""

    events: int
    labels: int
    scored: int
    backlog: BacklogFigures
    latency_seconds: dict[str, dict[str, float | None]]  # kind -> percentile -> seconds
    throughput_per_second: dict[str, float]
    alerts: dict[str, int]  # by status
    alert_coverage: AlertCoverage
    alerts_oldest_pending_age_seconds: float
    models: dict[int, VersionQuality]
    generated_at: str


class Histogram(TypedDict):
    """A latency histogram: cumulative counts per upper bound (seconds), the count and the sum."""

    count: int
    sum: float
    buckets: list[tuple[float, int]]


def percentiles(values: list[float], points: tuple[float, ...] = (50, 95, 99)) -> dict[str, float | None]:
    """Nearest-rank percentiles: each is a value that was actually observed."""
    if not values:
        return {f"p{int(p)}": None for p in points}
    ordered = sorted(values)
    return {f"p{int(p)}": ordered[min(len(ordered) - 1, max(0, int(-(-p * len(ordered) // 100)) - 1))]
            for p in points}


def row_counts(conn: Connection) -> dict[str, int]:
    """Rows per table, for every table of the schema: whether a database holds anything at all."""
    return {table.name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
            for table in (events, model_versions, predictions, labels, alerts)}


def collect_stats(engine: Engine, now: datetime | None = None) -> StatsFigures:
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        counts = _counts(conn)
        backlog = _backlog(conn, counts, now)
        latency = _latency(conn)
        throughput = _throughput(conn, now)
        models = model_quality(conn)
        oldest_alert = conn.execute(_oldest_undelivered_alert).scalar()
    return {
        "events": counts["transactions"],
        "labels": counts["labels"],
        "scored": counts["scored"],
        "backlog": backlog,
        "latency_seconds": latency,
        "throughput_per_second": throughput,
        "alerts": count_by_status(engine),
        "alert_coverage": alert_coverage(engine),
        # Not in `GET /v1/stats` (its body is fixed); `/metrics` exports it for the delivery alerting rule.
        "alerts_oldest_pending_age_seconds": _age(oldest_alert, now),
        "models": models,
        "generated_at": now.isoformat().replace("+00:00", "Z"),
    }


# When the oldest alert not yet delivered (nor given up) was made: NULL when there is none.
_oldest_undelivered_alert = sa.select(sa.func.min(alerts.c.created_at)).where(alerts.c.status == "pending")


def _age(moment: datetime | None, now: datetime) -> float:
    """Seconds from `moment` to `now`, 0 without a moment (SQLite hands back naive UTC)."""
    if moment is None:
        return 0.0
    return max(0.0, (now - (moment if moment.tzinfo else moment.replace(tzinfo=UTC))).total_seconds())


def _counts(conn: Connection) -> dict[str, int]:
    per_type = sa.select(events.c.event_type, sa.func.count()).group_by(events.c.event_type)
    by_type: dict[str, int] = {str(kind): int(n) for kind, n in conn.execute(per_type)}
    scored = conn.execute(sa.select(sa.func.count()).select_from(predictions).where(predictions.c.champion)).scalar()
    return {"transactions": int(by_type.get(EVENT_TRANSACTION, 0)), "labels": int(by_type.get(EVENT_LABEL, 0)),
            "scored": int(scored or 0)}


def _backlog(conn: Connection, counts: dict[str, int], now: datetime) -> BacklogFigures:
    first = conn.execute(sa.select(sa.func.min(events.c.position)).where(
        events.c.event_type == EVENT_PROMOTION)).scalar()
    if first is None:
        return {"count": 0, "oldest_age_seconds": None, "unassigned": counts["transactions"], "failed": 0}
    scorable = conn.execute(sa.select(sa.func.count()).select_from(events).where(
        events.c.event_type == EVENT_TRANSACTION, events.c.position > first)).scalar() or 0
    scored = sa.or_(sa.exists().where(predictions.c.transaction_id == events.c.transaction_id, predictions.c.champion),
                    champion_failed(events.c.transaction_id))
    # A transaction its champion failed to score is final (`fraudlog.store.scoring_failures`): not backlog.
    failed = conn.execute(sa.select(sa.func.count()).select_from(scoring_failures).where(
        scoring_failures.c.champion)).scalar() or 0
    # Look for the oldest unscored event among the newest positions only: a scan from the start of a
    # million-event log on every dashboard refresh would cost more than the answer is worth.
    last = conn.execute(sa.select(sa.func.max(events.c.position))).scalar() or 0
    oldest = conn.execute(sa.select(events.c.recorded_at).where(
        events.c.event_type == EVENT_TRANSACTION, events.c.position > max(first, last - OLDEST_SEARCH_WINDOW),
        ~scored).order_by(events.c.position).limit(1)).scalar()
    oldest_at = None if oldest is None else (oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC))
    return {
        "count": max(0, int(scorable) - counts["scored"] - int(failed)),
        "oldest_age_seconds": None if oldest_at is None else max(0.0, (now - oldest_at).total_seconds()),
        "unassigned": counts["transactions"] - int(scorable),
        "failed": int(failed),
    }


def _latency(conn: Connection) -> dict[str, dict[str, float | None]]:
    rows = conn.execute(
        sa.select(predictions.c.scored_at, predictions.c.event_time, predictions.c.recorded_at)
        .where(predictions.c.champion).order_by(predictions.c.scored_at.desc()).limit(LATENCY_SAMPLE)).all()
    return {
        "event_to_prediction": percentiles([(s - e).total_seconds() for s, e, _ in rows]),
        "recorded_to_prediction": percentiles([(s - r).total_seconds() for s, _, r in rows]),
    }


def _throughput(conn: Connection, now: datetime) -> dict[str, float]:
    since = now - THROUGHPUT_WINDOW
    ingested = conn.execute(sa.select(sa.func.count()).select_from(events).where(
        events.c.event_type == EVENT_TRANSACTION, events.c.recorded_at > since)).scalar() or 0
    scored = conn.execute(sa.select(sa.func.count()).select_from(predictions).where(
        predictions.c.champion, predictions.c.scored_at > since)).scalar() or 0
    window = THROUGHPUT_WINDOW.total_seconds()
    return {"ingest": ingested / window, "scoring": scored / window}


def model_quality(conn: Connection) -> dict[int, VersionQuality]:
    """Per version: predictions, alert rate at its threshold, and ROC AUC on the labels that have arrived."""
    totals = conn.execute(sa.select(predictions.c.model_version, sa.func.count(), _alerted())
                          .group_by(predictions.c.model_version)).all()
    labelled = conn.execute(
        sa.select(predictions.c.model_version, predictions.c.score, labels.c.is_fraud)
        .select_from(predictions.join(labels, labels.c.transaction_id == predictions.c.transaction_id)))
    scores: dict[int, list[float]] = defaultdict(list)
    truths: dict[int, list[bool]] = defaultdict(list)
    for version, score, is_fraud in labelled:
        scores[version].append(score)
        truths[version].append(bool(is_fraud))
    return {
        int(version): {"predictions": int(n), "alert_rate": int(hits or 0) / n if n else None,
                       "labels": len(truths[version]), "frauds": sum(truths[version]),
                       "roc_auc": roc_auc(scores[version], truths[version]) if truths[version] else None}
        for version, n, hits in sorted(totals)
    }


def served_quality(conn: Connection) -> VersionQuality:
    """What the customers got: the champions' predictions pooled across versions, their alert rate, and ROC
    AUC on the labels that have arrived."""
    n, hits = conn.execute(sa.select(sa.func.count(), _alerted()).where(predictions.c.champion)).one()
    labelled = conn.execute(sa.select(predictions.c.score, labels.c.is_fraud).select_from(
        predictions.join(labels, labels.c.transaction_id == predictions.c.transaction_id)).where(
        predictions.c.champion)).all()
    truths = [bool(y) for _, y in labelled]
    return {"predictions": int(n), "alert_rate": int(hits or 0) / n if n else None, "labels": len(truths),
            "frauds": sum(truths), "roc_auc": roc_auc([s for s, _ in labelled], truths) if truths else None}


def _alerted() -> Any:
    """How many predictions scored at or above their own threshold: the alert count, per version or pooled."""
    return sa.func.sum(sa.case((predictions.c.score >= predictions.c.threshold, 1), else_=0))


# Upper bounds (seconds) of the latency histograms: a healthy pipeline scores in tens of milliseconds, a
# backlog pushes latencies to minutes, and event-to-prediction also carries the client's own delay.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


def latency_histograms(engine: Engine, after: datetime, through: datetime,
                       buckets: tuple[float, ...] = LATENCY_BUCKETS) -> dict[str, Histogram]:
    """Histograms of the latencies of the champion predictions scored in (after, through], counted by the
    database (a range scan of `ix_predictions_scored_at`, so the cost follows the predictions in the range).

    Each kind (`event_to_prediction`, `recorded_to_prediction`) gets `buckets` (cumulative counts, one per
    upper bound, `+Inf` being `count`), `count` and `sum` (seconds).
    """
    kinds = {"event_to_prediction": predictions.c.event_time, "recorded_to_prediction": predictions.c.recorded_at}
    seconds = [backend_for(engine).seconds_between(predictions.c.scored_at, start) for start in kinds.values()]
    # Each row gets the index of the first bucket it fits (len(buckets): only +Inf); the database groups them.
    indexes = [sa.case(*((s <= bound, i) for i, bound in enumerate(buckets)), else_=len(buckets)).label(f"b{k}")
               for k, s in enumerate(seconds)]
    query = (sa.select(*indexes, sa.func.count(), *(sa.func.sum(s) for s in seconds))
             .where(predictions.c.scored_at > after, predictions.c.scored_at <= through, predictions.c.champion)
             .group_by(*indexes))
    with engine.connect() as conn:
        groups = conn.execute(query).all()
    result: dict[str, Histogram] = {}
    for k, kind in enumerate(kinds):
        per_bucket = [0] * (len(buckets) + 1)
        total = 0.0
        for row in groups:
            per_bucket[int(row[k])] += int(row[len(kinds)])
            total += float(row[len(kinds) + 1 + k] or 0.0)
        cumulative = [sum(per_bucket[: i + 1]) for i in range(len(buckets))]
        result[kind] = {"count": sum(per_bucket), "sum": total,
                        "buckets": list(zip(buckets, cumulative, strict=True))}
    return result
