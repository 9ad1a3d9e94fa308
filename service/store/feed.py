"""The prediction feed's two questions of the database: how far is the log final, and what lies below that.

A position is *final* for the feed when nothing more will ever be written for it there: a control or
label event, a transaction whose champion prediction is committed, a transaction its champion failed to
score (a recorded scoring failure, `fraudlog.store.scoring_failures`), or a transaction that no champion
was serving (the service decides which; see `service/feed/watermark.py`). The feed delivers only below
the highest position under which every position is final (invariant 11, docs/INVARIANTS.md), because
predictions commit out of log order: workers score batches in parallel and the sweeper re-rings old
positions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fraudlog.domain.events import EVENT_TRANSACTION
from fraudlog.domain.features import FeatureValues
from fraudlog.domain.records import StoredReason
from fraudlog.store.scoring_failures import champion_failed
from fraudlog.store.tables import decode_json, events, json_text, predictions

_champion_prediction = sa.exists().where(predictions.c.transaction_id == events.c.transaction_id,
                                         predictions.c.champion)
_champion_final = sa.or_(_champion_prediction, champion_failed(events.c.transaction_id))
# Uncorrelated on purpose: the log's last position, not the row's own.
_last = sa.select(sa.func.max(events.c.position)).correlate(None).scalar_subquery()


@dataclass(frozen=True, slots=True)
class LogFrontier:
    """`last`: the log's highest position; `first_open`: the lowest transaction above the scan's start
    that has neither a champion prediction nor a champion's scoring failure yet (None when every one has)."""

    last: int
    first_open: int | None


def log_frontier(conn: Connection, after: int) -> LogFrontier:
    """One statement, so one snapshot: `last` and `first_open` describe the same moment.

    Appends are serialised (invariant 2), so every position up to `last` is committed and visible; a
    transaction committed after the snapshot has a position above `last` and is not looked at. The scan
    starts at `after` and stops at the first open position: its cost is what arrived since the last call.
    """
    first_open = (sa.select(events.c.position)
                  .where(events.c.position > after, events.c.position <= _last,
                         events.c.event_type == EVENT_TRANSACTION, ~_champion_final)
                  .order_by(events.c.position).limit(1).scalar_subquery())
    last, first = conn.execute(sa.select(_last, first_open)).one()
    return LogFrontier(int(last or 0), None if first is None else int(first))


@dataclass(frozen=True, slots=True)
class FeedFilter:
    """Which predictions a consumer wants: champions only (the default) or every version, one version,
    a minimum score, alerts only (champion predictions at or above their threshold)."""

    all_versions: bool = False
    model_version: int | None = None
    min_score: float | None = None
    alerts_only: bool = False
    with_features: bool = False
    with_reasons: bool = False  # an alert's stored reasons (`?explain=true`)

    def matches(self, item: FeedItem) -> bool:
        """The same choice as `_where`, for predictions already read (the shared reader's fan-out)."""
        if self.model_version is not None:
            if item.model_version != self.model_version:
                return False
        elif not self.all_versions and not item.champion:
            return False
        if self.min_score is not None and item.score < self.min_score:
            return False
        return not self.alerts_only or (item.champion and item.score >= item.threshold)

    def shown(self, item: FeedItem) -> FeedItem:
        """`item` with only what this consumer asked for: the shared reader reads features and reasons when
        any consumer wants them."""
        extra_features = item.features is not None and not self.with_features
        extra_reasons = item.reasons is not None and not self.with_reasons
        if not extra_features and not extra_reasons:
            return item
        return replace(item, features=None if extra_features else item.features,
                       reasons=None if extra_reasons else item.reasons)


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One prediction as the feed delivers it; `position` is its cursor."""

    position: int
    transaction_id: str
    model_version: int
    champion: bool
    score: float
    threshold: float
    event_time: datetime
    recorded_at: datetime
    scored_at: datetime
    features: FeatureValues | None = None
    reasons: list[StoredReason] | None = None  # stored for alerts only (invariant 21)


_FEED_COLUMNS = (predictions.c.position, predictions.c.transaction_id, predictions.c.model_version,
                 predictions.c.champion, predictions.c.score, predictions.c.threshold, predictions.c.event_time,
                 predictions.c.recorded_at, predictions.c.scored_at)


def _where(stmt: Any, feed: FeedFilter) -> Any:
    if feed.model_version is not None:
        stmt = stmt.where(predictions.c.model_version == feed.model_version)
    elif not feed.all_versions or feed.alerts_only:
        stmt = stmt.where(predictions.c.champion)
    if feed.min_score is not None:
        stmt = stmt.where(predictions.c.score >= feed.min_score)
    if feed.alerts_only:
        stmt = stmt.where(predictions.c.champion, predictions.c.score >= predictions.c.threshold)
    return stmt


def feed_page(conn: Connection, *, after: int, through: int, feed: FeedFilter, limit: int) -> list[FeedItem]:
    """Matching predictions at positions in (after, through], in log order (then version), about `limit`.

    A page never splits one position's predictions (the cursor is a position), so it may hold a few more
    than `limit`: the rest of the last position's versions.
    """
    columns = (*_FEED_COLUMNS, *([json_text(predictions.c.features)] if feed.with_features else []),
               *([json_text(predictions.c.reasons)] if feed.with_reasons else []))
    base = _where(sa.select(*columns), feed).order_by(predictions.c.position, predictions.c.model_version)
    rows = conn.execute(base.where(predictions.c.position > after, predictions.c.position <= through)
                        .limit(limit)).all()
    if len(rows) == limit:
        tail = rows[-1][0]
        rows = [r for r in rows if r[0] != tail]
        rows += conn.execute(base.where(predictions.c.position == tail)).all()
    return [_item(row, feed) for row in rows]


def _item(row: Any, feed: FeedFilter) -> FeedItem:
    extra = list(row[len(_FEED_COLUMNS):])
    features = decode_json(extra.pop(0)) if feed.with_features else None
    stored = extra.pop(0) if feed.with_reasons else None
    stored = None if stored is None else decode_json(stored)
    return FeedItem(int(row[0]), row[1], int(row[2]), bool(row[3]), float(row[4]), float(row[5]), row[6], row[7],
                    row[8], features, None if stored is None else stored["reasons"])
