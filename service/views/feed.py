"""Predictions as the feed shows them: `GET /v1/predictions`, the SSE stream and `fraudlog tail`."""

from __future__ import annotations

import msgspec

from fraudlog.domain.events import format_time
from fraudlog.domain.records import Reason, StoredReason
from fraudlog.feed.cursor import Cursor
from fraudlog.responses.feed import PredictionItem
from fraudlog.store.feed import FeedItem


def prediction_items(items: list[FeedItem], *, explain: bool = False) -> list[PredictionItem]:
    """Items with their cursors: a position's last prediction carries the plain position, the ones before
    it `position:version`, so resuming never repeats nor skips a version (a page never splits a position)."""
    shown = []
    for index, item in enumerate(items):
        last_of_position = index + 1 == len(items) or items[index + 1].position != item.position
        cursor = Cursor(item.position, None if last_of_position else item.model_version)
        shown.append(PredictionItem(
            cursor=str(cursor), position=item.position, transaction_id=item.transaction_id,
            model_version=item.model_version, champion=item.champion, score=item.score,
            threshold=item.threshold, is_alert=item.champion and item.score >= item.threshold,
            event_time=format_time(item.event_time), recorded_at=format_time(item.recorded_at),
            scored_at=format_time(item.scored_at), features=item.features,
            reasons=_reasons(item.reasons) if explain else msgspec.UNSET))
    return shown


def _reasons(stored: list[StoredReason] | None) -> list[Reason] | None:
    return None if stored is None else msgspec.convert(stored, list[Reason])
