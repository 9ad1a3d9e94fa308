"""The drift loop: run the detectors over the log in position order, record each detection once, act on it.

Runs on the schedule (`fraudlog scheduler`, the embedded schedule) under the deployment-wide lifecycle lock
(so a detection and the retrain it causes are decided by one process at a time; a busy lock skips the tick).

Deterministic from the log: the champion is watched from the position at which it became champion; a block
of the log is fed only once every transaction in it has the champion's prediction (the scorer may lag; the
block then waits), transactions in position order to the score and feature monitors, labels in position
(arrival) order to the performance monitor with the score the champion served. Predictions are themselves
a function of the log (invariants 3 and 4), so a replay from the same start finds the same detections at the
same positions with the same statistics. The in-memory state is a checkpoint only: a restarted process
replays the champion's stretch of the log again, and the ids it finds are already recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fraudlog.domain.assignment import CHALLENGER, CHAMPION
from fraudlog.domain.drift_settings import DriftSettings
from fraudlog.domain.events import EVENT_TRANSACTION, LABEL_EVENT_TYPES, DriftDetected
from fraudlog.domain.features import FeatureValues
from fraudlog.domain.records import Decision
from fraudlog.lifecycle.retraining import catch_up_due, retrain_holding_lock
from fraudlog.lifecycle.roles import assign_role
from fraudlog.lifecycle.triggers import drift_trigger, with_window
from fraudlog.lifecycle.versions import CALIBRATION_TRANSACTIONS, NothingToLearn, ScoresCannotRank, train_version
from fraudlog.lifecycle.window import read_window, window_size
from fraudlog.ml.specs import ModelSpec, score_one
from fraudlog.models.registry import ModelRegistry
from fraudlog.monitoring.drift import (
    SIGNAL_FEATURES,
    SIGNAL_SCORE,
    Detection,
    DistributionMonitor,
    PerformanceMonitor,
    detection_id,
)
from fraudlog.store.drift import detection_ids, record_detection
from fraudlog.store.event_log import count_after, last_position, walk
from fraudlog.store.lifecycle import lifecycle_lock
from fraudlog.store.tables import events, predictions

log = logging.getLogger("fraudlog.drift")
BLOCK = 10_000  # log positions fed per run at most, so one tick stays short


@dataclass
class _Watch:
    version: int
    start: int  # the position at which the version became champion: the watch begins after it
    through: int  # the last log position fed
    performance: PerformanceMonitor
    scores: DistributionMonitor
    features: DistributionMonitor

    def feed(self, conn: Connection, first: int, last: int) -> list[Detection]:
        found: list[Detection] = []
        for chunk in walk(conn, first, last, [EVENT_TRANSACTION, *LABEL_EVENT_TYPES], 1_000):
            served = _served(conn, self.version, {r.transaction_id for r in chunk if r.transaction_id})
            for record in chunk:
                scored = served.get(record.transaction_id or "")
                if scored is None or scored[2] <= self.start:
                    continue  # not served by this version as champion
                if record.event_type == EVENT_TRANSACTION:
                    for monitor, values in ((self.scores, {"score": scored[0]}), (self.features, scored[1])):
                        detection = monitor.add(record.position, values)
                        if detection is not None:
                            found.append(detection)
                else:
                    detection = self.performance.add(record.position, scored[0], bool(record.payload["is_fraud"]),
                                                     scored[2])
                    if detection is not None:
                        found.append(detection)
        self.through = last
        return found


def _served(conn: Connection, version: int, ids: set[str]) -> dict[str, tuple[float, FeatureValues, int]]:
    if not ids:
        return {}
    stmt = sa.select(predictions.c.transaction_id, predictions.c.score, predictions.c.features,
                     predictions.c.position).where(predictions.c.model_version == version,
                                                   predictions.c.transaction_id.in_(sorted(ids)))
    return {tx: (float(score), dict(features or {}), int(position)) for tx, score, features, position
            in conn.execute(stmt)}


def _ready_through(conn: Connection, version: int, after: int, head: int) -> int:
    """The last position up to which every transaction after `after` has the version's prediction."""
    missing = (sa.select(sa.func.min(events.c.position))
               .select_from(events.outerjoin(predictions, sa.and_(
                   predictions.c.transaction_id == events.c.transaction_id,
                   predictions.c.model_version == version)))
               .where(events.c.event_type == EVENT_TRANSACTION, events.c.position > after,
                      events.c.position <= head, predictions.c.transaction_id.is_(None)))
    first_missing = conn.execute(missing).scalar()
    return head if first_missing is None else int(first_missing) - 1


class DriftWatch:
    """The detectors of the current champion, fed from the log; one per process."""

    def __init__(self, registry: ModelRegistry, settings: DriftSettings, git_commit: str | None = None) -> None:
        self.registry = registry
        self.settings = settings
        self.git_commit = git_commit
        self._watch: _Watch | None = None

    def run(self, *, act: bool = True) -> list[DriftDetected]:
        """Feed what the log gained since the last run; record (and, when `act`, act on) each detection.

        Returns the detections this run recorded. Raises `LockBusy` when the lifecycle lock is held."""
        with lifecycle_lock(self.registry.engine):
            recorded = self._run(act)
            if act and self.settings.catch_up:
                self._catch_up()
            return recorded

    def _catch_up(self) -> None:
        threshold = catch_up_due(self.registry)
        if threshold is None:
            return
        try:
            result = retrain_holding_lock(self.registry, min_new_transactions=threshold, git_commit=self.git_commit)
        except ScoresCannotRank as exc:
            log.warning("no catch-up retrain: %s", exc)
            return
        if result is not None:
            log.info("retrained to catch up after a drift detection: the data since the change doubled",
                     extra={"model_version": result.version})

    def detect(self) -> list[DriftDetected]:
        """Feed everything ready in the log and return the detections, recording nothing (replay)."""
        found: list[DriftDetected] = []
        while True:
            block = self._feed_block()
            if block is None:
                return found
            found += block

    def _feed_block(self) -> list[DriftDetected] | None:
        """The detections in the next block of the log that is ready; None when nothing is ready."""
        table = self.registry.assignments()
        champion = table.current().champion
        if champion is None:
            return None
        watch = self._watch_of(champion, table)
        with self.registry.engine.connect() as conn:
            head = min(last_position(conn), watch.through + BLOCK)
            ready = _ready_through(conn, champion, watch.through, head)
            if ready <= watch.through:
                return None
            return [self._event(champion, d) for d in watch.feed(conn, watch.through + 1, ready)]

    def _run(self, act: bool) -> list[DriftDetected]:
        recorded: list[DriftDetected] = []
        while (block := self._feed_block()) is not None:
            recorded += self._record(block, act)
        return recorded

    def _record(self, detections: list[DriftDetected], act: bool) -> list[DriftDetected]:
        recorded: list[DriftDetected] = []
        known = detection_ids(self.registry.engine)
        for event in detections:
            if event.id in known:
                continue
            if act:
                event = self._act(event)
            if record_detection(self.registry.engine, event) is not None:
                recorded.append(event)
                log.warning("drift detected on %s at position %d (version %d): %s", event.signal, event.position,
                            event.model_version, event.why or event.action,
                            extra={"model_version": event.model_version})
        return recorded

    def _watch_of(self, champion: int, table: Any) -> _Watch:
        if self._watch is not None and self._watch.version == champion:
            return self._watch
        start = max((c.position for c in table.changes_of(champion) if c.role == CHAMPION), default=0)
        scores, features = self._reference(champion)
        p = self.settings.parameters
        self._watch = _Watch(champion, start, start, PerformanceMonitor(p),
                             DistributionMonitor(SIGNAL_SCORE, scores, p),
                             DistributionMonitor(SIGNAL_FEATURES, features, p))
        return self._watch

    def _reference(self, version: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
        """The version's calibration window (the newest transactions of its training window): its frozen
        scores, and each numeric feature's values, computed from the log as training computed them."""
        record = self.registry.get(version)
        loaded = self.registry.load(version)
        window = read_window(self.registry.engine, record.watermark, CALIBRATION_TRANSACTIONS, loaded.spec.categories)
        scores: list[float] = []
        features: dict[str, list[float]] = {}
        for values, _ in window.data.examples():
            own = loaded.spec.own_features(values, loaded.spec.categories)
            scores.append(score_one(loaded.model, loaded.spec, own))
            for name, value in own.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    features.setdefault(name, []).append(float(value))
        return {"score": scores}, features

    def _event(self, version: int, detection: Detection) -> DriftDetected:
        return DriftDetected(id=detection_id(version, detection.signal, detection.position),
                             position=detection.position, model_version=version, signal=detection.signal,
                             detector=detection.detector, parameters=detection.parameters,
                             window=[detection.first, detection.last], statistic=detection.statistic,
                             threshold=detection.threshold, details=detection.details, action="none", why="")

    def _act(self, event: DriftDetected) -> DriftDetected:
        """Retrain on the detection, or say why not."""
        why = self._why_not(event)
        if why:
            return _with(event, why=why)
        parent = self.registry.get(event.model_version)
        spec = ModelSpec.from_dict(parent.model_spec)
        base = window_size(spec)
        with self.registry.engine.connect() as conn:
            cut = last_position(conn)
            window = min(self._window_since_change(conn, event, cut), base)
        try:
            row = train_version(self.registry.engine, self.registry.secret_key, with_window(spec, window), cut=cut,
                                parent=event.model_version,
                                target_alert_rate=float(parent.metrics.get("target_alert_rate", 0.02)),
                                git_commit=self.git_commit)
        except NothingToLearn as exc:
            return _with(event, why=f"not enough labels: {exc}")
        except ScoresCannotRank as exc:  # a window this short may not rank: the detection is recorded all the same
            return _with(event, why=f"the version trained on it was not registered: {exc}")
        window_from = row.lineage.training_data.first_position or 1  # None only for an empty window
        version = self.registry.versions.add(
            msgspec.structs.replace(row, trigger=drift_trigger(event.id, window_from, base)))
        assign_role(self.registry, version, CHALLENGER, Decision(
            kind="automatic", action="enter",
            reason=f"trained on drift detection {event.id} ({event.signal} at position {event.position})"))
        return _with(event, action="retrain", retrained_version=version,
                     why=f"version {version} trained on the newest {window:,} transactions up to position {cut}"
                         f"{' (since the change it dates)' if 'change_from' in event.details else ''}; "
                         "it scores in shadow until the promotion policy has the evidence")

    def _window_since_change(self, conn: Connection, event: DriftDetected, cut: int) -> int:
        """The transactions since the change a performance detection dates (`change_from`): before it, the
        log teaches the relation that no longer holds. FRAUDLOG_DRIFT_WINDOW when the detection dates none."""
        change_from = event.details.get("change_from")
        if not isinstance(change_from, int):
            return self.settings.window
        return max(1, count_after(conn, change_from - 1, EVENT_TRANSACTION) - count_after(conn, cut, EVENT_TRANSACTION))

    def _why_not(self, event: DriftDetected) -> str:
        if event.signal not in self.settings.retrain_on:
            return (f"a {event.signal} signal is recorded, not acted on (FRAUDLOG_DRIFT_RETRAIN_ON="
                    f"{','.join(self.settings.retrain_on)})")
        table = self.registry.assignments()
        for version in reversed(self.registry.list()):
            trigger = version.trigger
            if trigger is None or trigger["kind"] != "drift":
                continue
            if version.version in table.current().challengers:
                return (f"a retrain already running: version {version.version}, trained on drift detection "
                        f"{trigger.get('detection')}, is still a challenger awaiting evidence")
            if event.position - version.watermark < self.settings.cooldown:
                return (f"cool-down: version {version.version} was trained on drift at position "
                        f"{version.watermark}, fewer than {self.settings.cooldown:,} positions before")
            break
        return ""


def _with(event: DriftDetected, **changes: Any) -> DriftDetected:
    return msgspec.structs.replace(event, **changes)


_watches: dict[int, DriftWatch] = {}


def watch_for(registry: ModelRegistry, settings: DriftSettings, git_commit: str | None = None) -> DriftWatch:
    """This process's watch over `registry` (its detectors' state is the checkpoint between runs)."""
    watch = _watches.get(id(registry))
    if watch is None or watch.registry is not registry:
        watch = _watches[id(registry)] = DriftWatch(registry, settings, git_commit)
    return watch
