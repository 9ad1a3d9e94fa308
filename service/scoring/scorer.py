"""Score a batch of log positions: features from the log, every assigned version, one transaction.

This is the body of the `score` actor and of the embedded mode's worker threads. It is idempotent:
predictions are keyed (transaction, version) and inserted with ON CONFLICT DO NOTHING, and the alert row
is keyed by transaction, so a redelivered or swept batch changes nothing (invariants 5 and 6, docs/INVARIANTS.md).
Serving never learns: models are frozen versions loaded from the registry (invariant 4). Nor does it score with
a version trained under other minor versions of river, numpy or scipy, unless allowed (`fraudlog.ml.environment`).

A version whose artifact fails verification is a permanent failure, not a transient one: it is recorded as
refused (`fraudlog.store.refusals`) and logged once per process, the batch is scored with the versions that do
verify, and events whose champion is refused are left unscored (they wait for an operator: /ready says so)
rather than failing the whole message into twenty retries, until a champion that verifies serves: that one then
scores them, as their champion (`_serve_refused_backlog`).

A model that raises on one transaction is the same kind of failure for that transaction alone: its score is
tried a bounded number of times, then recorded as a scoring failure (`fraudlog.store.scoring_failures`) while
the rest of the batch is scored; `fraudlog rescore` scores it again once the model is fixed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Connection, Engine

from fraudlog.domain.alert_window import DEFAULT_ALERT_WINDOW, AlertWindow
from fraudlog.domain.assignment import Assignment, AssignmentTable
from fraudlog.domain.features import FeatureValues, TxView, batch_features, history_query
from fraudlog.domain.records import NewPrediction, RaisedAlert
from fraudlog.domain.suppressions import hold_back
from fraudlog.ml.artifact import ArtifactRejected
from fraudlog.ml.environment import EnvironmentGuard
from fraudlog.ml.specs import score_one, union_categories
from fraudlog.models.cache import LoadedVersion
from fraudlog.models.explanations import stored_reasons
from fraudlog.models.registry import ModelRegistry
from fraudlog.store.engine import PinglessConnections
from fraudlog.store.history import fetch_history
from fraudlog.store.refusals import clear_refusal, record_refusal
from fraudlog.store.scoring_batch import BatchRead, read_batch, write_batch
from fraudlog.store.scoring_failures import ATTEMPTS, ScoringFailure, commit_failures, failure_row

log = logging.getLogger("fraudlog.scoring")


@dataclass(frozen=True)
class ScoreReport:
    events: int
    predictions: int
    alerts: int
    unassigned: int  # events with no champion: before the first promotion
    refused: int = 0  # events left unscored because their champion's artifact does not verify
    failed: int = 0  # (transaction, version) pairs whose score raised on every attempt: recorded as failures


class Scorer:
    def __init__(self, engine: Engine, registry: ModelRegistry, *, allow_environment_drift: bool = False,
                 alert_window: AlertWindow = DEFAULT_ALERT_WINDOW, reports_refusals: bool = True) -> None:
        """`reports_refusals=False`: a refused artifact is recorded and noted at INFO, not reported as an error
        (a worker's burst process: its worker process reports it, once, as before it had one)."""
        self.engine = engine
        self._reports_refusals = reports_refusals
        self.alert_window = alert_window  # one customer alert per card per window (invariant 22)
        self.registry = registry
        self.environment = EnvironmentGuard(lambda version: registry.get(version).environment,
                                            allow_drift=allow_environment_drift)
        self._verified: set[int] = set()
        self._refused: set[int] = set()
        self._health_lock = threading.Lock()
        self._connections = PinglessConnections(engine)

    def score_positions(self, positions: Sequence[int]) -> ScoreReport:
        # One connection for the whole batch, checked out without a ping: scoring is idempotent, so a batch that
        # finds its connection dropped simply runs again on a new one (`PinglessConnections`).
        return self._connections.run(lambda conn: self._score_on(conn, positions))

    def close(self) -> None:
        """Close the connections this scorer keeps for its batches."""
        self._connections.close()

    def _score_on(self, conn: Connection, positions: Sequence[int]) -> ScoreReport:
        # Each round trip costs a wait and, under the GIL, a re-acquisition, so the batch reads in one round trip
        # and writes and commits in another where the backend allows it (`fraudlog.store.scoring_batch`).
        batch = read_batch(conn, positions, roles_after=self.registry.roles_known_through)
        if not batch.records:
            return ScoreReport(0, 0, 0, 0)
        table = self.registry.learn_roles(batch.role_changes, batch.roles_through)
        return self._score(conn, batch, table)

    def _score(self, conn: Connection, batch: BatchRead, table: AssignmentTable) -> ScoreReport:
        records = batch.records
        assigned = {r.view.position: table.assignment_at(r.view.position) for r in records}
        usable = self._usable({version for a in assigned.values() for version in a.versions})
        assigned, usable = self._serve_refused_backlog(assigned, usable, table)
        targets = [r.view for r in records if assigned[r.view.position].champion in usable]
        unassigned = sum(1 for a in assigned.values() if a.champion is None)
        refused = len(records) - len(targets) - unassigned
        if not targets:
            return ScoreReport(len(records), 0, 0, unassigned, refused)
        done = batch.scored
        todo = [t for t in targets if any((t.transaction_id, v) not in done
                                          for v in assigned[t.position].versions if v in usable)]
        # Features once for every category some version of the batch reads; each version keeps its own.
        categories = union_categories(usable[version].spec
                                      for version in {v for t in todo for v in assigned[t.position].versions
                                                      if v in usable})
        query = history_query(todo)
        history = fetch_history(conn, query, categories=categories) if query else []
        features = batch_features(todo, history, categories)
        recorded_at = {r.view.position: r.recorded_at for r in records}
        rows, alerts, failures = self._predict(recorded_at, todo, assigned, usable, features, categories, done)
        alerts, held = hold_back(batch.suppressions, alerts, {t.transaction_id: t.event_time for t in todo})
        for row in rows:  # the champion's prediction names the suppression that held its alert back
            if row["champion"] and row["transaction_id"] in held:
                row["suppressed_by"] = held[row["transaction_id"]]
        commit_failures(conn, failures)
        new_ids = write_batch(conn, rows, alerts, self.alert_window)
        created = [alert for alert in alerts if alert["transaction_id"] in new_ids]
        for alert in created:  # after the commit: these alerts exist
            log.info("alert created", extra={k: alert[k] for k in ("transaction_id", "model_version", "score",
                                                                   "threshold")})
        return ScoreReport(len(records), len(rows), len(created), unassigned, refused, len(failures))

    def _serve_refused_backlog(self, assigned: dict[int, Assignment], usable: dict[int, LoadedVersion],
                               table: AssignmentTable) -> tuple[dict[int, Assignment], dict[int, LoadedVersion]]:
        """Events whose champion's artifact is refused are scored by the champion serving now, when it is servable:
        the backlog a refused champion left is not stranded once a good version is promoted (issue 27, item 2).
        Their challengers still score as challengers."""
        stranded = [p for p, a in assigned.items() if a.champion is not None and a.champion not in usable]
        serving = table.current().champion
        if not stranded or serving is None or serving in self._refused:
            return assigned, usable
        usable = {**usable, **self._usable({serving})}
        if serving not in usable:
            return assigned, usable
        served = dict(assigned)
        for position in stranded:
            served[position] = Assignment(serving, tuple(v for v in assigned[position].challengers if v != serving))
        log.warning("%d events whose champion's artifact is refused are scored by model version %d, the champion "
                    "serving now", len(stranded), serving, extra={"model_version": serving})
        return served, usable

    def _usable(self, versions: set[int]) -> dict[int, LoadedVersion]:
        """The verified versions among `versions`; each refused one is recorded and logged once."""
        usable: dict[int, LoadedVersion] = {}
        for version in sorted(versions - self._refused):
            self.environment.drift_for(version)  # raises before unpickling a version of another environment
            try:
                usable[version] = self.registry.load(version)
            except ArtifactRejected as rejected:
                self._refuse(rejected)
                continue
            if version not in self._verified:
                self._verified.add(version)
                if clear_refusal(self.engine, version):
                    log.warning("model version %d verifies with this process's key: its recorded refusal is cleared",
                                version, extra={"model_version": version})
        return usable

    def _refuse(self, rejected: ArtifactRejected) -> None:
        with self._health_lock:
            if rejected.version in self._refused:
                return
            self._refused.add(rejected.version)
        record_refusal(self.engine, rejected)
        if not self._reports_refusals:
            log.info("model version %d is refused here too (its %s check); recorded, reported by the worker",
                     rejected.version, rejected.check, extra={"model_version": rejected.version})
            return
        log.error("%s; recorded as unusable, events it should score are left unscored (not retried)", rejected,
                  extra={"model_version": rejected.version, "failed_check": rejected.check})

    def _predict(self, recorded_at: dict[int, datetime], todo: Sequence[TxView], assigned: dict[int, Assignment],
                 usable: dict[int, LoadedVersion], features: dict[int, FeatureValues], categories: Sequence[str],
                 done: set[tuple[str, int]],
                 ) -> tuple[list[NewPrediction], list[RaisedAlert], list[ScoringFailure]]:
        rows: list[NewPrediction] = []
        alerts: list[RaisedAlert] = []
        failures: list[ScoringFailure] = []
        debug = log.isEnabledFor(logging.DEBUG)  # else the per-prediction timing and its record cost nothing
        for tx in todo:
            assignment = assigned[tx.position]
            for version in assignment.versions:
                if (tx.transaction_id, version) in done or version not in usable:
                    continue
                drift = self.environment.drift_for(version)
                loaded = usable[version]
                started = time.perf_counter() if debug else 0.0
                own = loaded.spec.own_features(features[tx.position], categories)
                champion = version == assignment.champion
                try:
                    score = _score_with_retries(loaded, own)
                except Exception as exc:  # the model's code raised on this input: the rest of the batch goes on
                    failures.append(failure_row(transaction_id=tx.transaction_id, model_version=version,
                                                position=tx.position, champion=champion, error=exc,
                                                attempts=ATTEMPTS, failed_at=datetime.now(UTC)))
                    log.error("model version %d could not score transaction %s after %d attempts; recorded as a "
                              "scoring failure (fraudlog rescore re-scores it)", version, tx.transaction_id,
                              ATTEMPTS, exc_info=True, extra={"transaction_id": tx.transaction_id,
                                                              "model_version": version, "position": tx.position})
                    continue
                scored_at = datetime.now(UTC)
                reasons = stored_reasons(loaded, own, score, champion=champion)
                rows.append({"transaction_id": tx.transaction_id, "model_version": version,
                             "position": tx.position, "champion": champion, "score": score,
                             "threshold": loaded.threshold, "features": own,
                             "event_time": tx.event_time, "recorded_at": recorded_at[tx.position],
                             "scored_at": scored_at, "environment_drift": drift, "reasons": reasons,
                             "suppressed_by": None})
                if debug:
                    log.debug("scored", extra={"transaction_id": tx.transaction_id, "model_version": version,
                                               "score": score, "micros": (time.perf_counter() - started) * 1e6})
                if champion and score >= loaded.threshold:
                    alerts.append({"transaction_id": tx.transaction_id, "card_id": tx.card_id, "score": score,
                                   "threshold": loaded.threshold, "model_version": version, "position": tx.position,
                                   "created_at": scored_at, "reasons": reasons})
        return rows, alerts, failures


def _score_with_retries(loaded: LoadedVersion, own: FeatureValues) -> float:
    """The score, tried `ATTEMPTS` times: a model that raises on this input raises the last attempt's error."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return float(score_one(loaded.model, loaded.spec, own))
        except Exception:
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")
