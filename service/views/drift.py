"""What `GET /v1/drift` and `fraudlog drift` show: the recorded drift detections, newest first."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy.engine import Engine

from fraudlog.domain.events import format_time
from fraudlog.store.drift import list_detections, transaction_times


class DriftDetectionView(msgspec.Struct, kw_only=True):
    """One detection as the log holds it, with the position of its own event (`event_position`)."""

    id: str
    event_position: int
    position: int  # where the detector fired
    model_version: int
    signal: str  # performance | score | features
    detector: str
    parameters: dict[str, Any]
    window: list[int]  # first and last log position of the evidence
    statistic: float
    threshold: float
    details: dict[str, Any]
    action: str  # retrain | none
    why: str
    retrained_version: int | None = None
    # The event time of the newest transaction at or before `position`: where it falls on a plot against
    # event time (the dashboard's quality panel marks it there).
    event_time: str | None = None


class DriftPage(msgspec.Struct, kw_only=True):
    items: list[DriftDetectionView]


def drift_page(engine: Engine, *, limit: int = 100, model_version: int | None = None) -> DriftPage:
    found = list_detections(engine, limit=limit, model_version=model_version)
    times = transaction_times(engine, [detection.position for _, detection in found])
    return DriftPage(items=[
        DriftDetectionView(event_position=position, event_time=_spelled(times.get(detection.position)),
                           **msgspec.structs.asdict(detection))
        for position, detection in found])


def _spelled(moment: Any) -> str | None:
    return None if moment is None else format_time(moment)
