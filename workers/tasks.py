"""The actors. Messages carry log positions, never payloads: the database is the source of truth.

Importing this module has no side effect: the actors are declared on a placeholder that refuses to send,
and `bind` points them at the process's broker, under the deployment's queue names, when the process
starts (`workers.process.start_broker`). So the API, the scheduler and the tests import them freely.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import dramatiq
from dramatiq.brokers.stub import StubBroker

from service.alerts.relay import DeliveryReport, deliver_pending
from service.gc_tuning import freeze_long_lived_objects
from service.logs import configure_logging, position_ranges
from service.ml.environment import EnvironmentMismatch
from workers.delivery import ring_delivery
from workers.runtime import runtime

log = logging.getLogger("fraudlog.worker")

DOORBELL_CHUNK = 1_000
# Queue names are `<FRAUDLOG_QUEUE_PREFIX>.<name>`: deployments (and test runs) sharing a broker keep apart.
SCORE_QUEUE = "score"
ALERTS_QUEUE = "alerts"
MAINTENANCE_QUEUE = "maintenance"


class BrokerNotStarted(RuntimeError):
    """A message was sent before the process started its broker."""


class UnstartedBroker(StubBroker):
    """Where the actors live until `bind`: declaring on it costs nothing, sending on it is a bug, said loudly
    rather than a message kept in memory and lost."""

    def enqueue(self, message: dramatiq.Message, *, delay: int | None = None) -> dramatiq.Message:
        raise BrokerNotStarted("no broker in this process yet: call workers.process.start_broker(settings) first")


class SweepOnBoot(dramatiq.Middleware):
    """A worker that starts sweeps once, so events whose doorbell was lost while it was down get scored."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        try:
            sweep.send()
        except Exception:  # the broker may still be coming up; the scheduler sweeps again later
            log.warning("could not enqueue the start-up sweep", exc_info=True)


class FreezeAfterBoot(dramatiq.Middleware):
    """Once a worker has booted, what its process holds is excluded from full garbage collections
    (`service.gc_tuning`): a full pass over it paused every batch in flight for ~100 ms."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        freeze_long_lived_objects()


class StructuredLogging(dramatiq.Middleware):
    """Worker processes started by the dramatiq CLI log as every other fraudlog process does.

    A middleware rather than a call at start: the dramatiq CLI configures its own logging after importing
    the broker module, and this hook runs after that.
    """

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        configure_logging()


_unstarted = UnstartedBroker()


@dramatiq.actor(broker=_unstarted, queue_name=SCORE_QUEUE, max_retries=20, min_backoff=200, max_backoff=30_000)
def score(positions: list[int]) -> None:
    """Score these log positions with their champion and challengers; idempotent."""
    try:
        report = runtime().scorer.score_positions(positions)
    except EnvironmentMismatch as exc:
        # Permanent for this process, so no retries: the events stay unscored (the backlog shows them) and the
        # sweeper rings them again for a worker that may score them, or this one once the operator allows it.
        log.error(str(exc), extra={"model_version": exc.version})
        return
    log.info("scored %d events", report.events, extra={"positions": position_ranges(positions),
                                                       "predictions": report.predictions, "alerts": report.alerts})
    if report.alerts:
        # This process's own delivery thread, woken directly: through the broker (`deliver_alerts`), every
        # batch with an alert cost a publish and its confirm on the scoring thread, and landed in this
        # process or another's thread doing the same thing.
        ring_delivery(deliver_due_alerts)


@dramatiq.actor(broker=_unstarted, queue_name=ALERTS_QUEUE, max_retries=3)
def deliver_alerts() -> None:
    """Wake this process's delivery thread, which relays due outbox rows to the sink (claim, send, mark
    sent). Returns at once: sending on a worker thread let a hanging receiver starve `score` of threads."""
    ring_delivery(deliver_due_alerts)


def deliver_due_alerts() -> DeliveryReport:
    """One relay run with this process's services (they are looked up per run: tests swap them)."""
    rt = runtime()
    return deliver_pending(rt.engine, rt.sink, batch_size=rt.relay.batch_size,
                           visibility_timeout=rt.relay.visibility_timeout, max_attempts=rt.relay.max_attempts,
                           base_delay=rt.relay.base_delay, max_delay=rt.relay.max_delay)


@dramatiq.actor(broker=_unstarted, queue_name=MAINTENANCE_QUEUE, max_retries=3)
def sweep() -> None:
    """Re-ring the doorbell for every event past the grace period without a champion prediction."""
    ring_score(runtime().sweeper.find_unscored())
    deliver_alerts.send()


@dramatiq.actor(broker=_unstarted, queue_name=MAINTENANCE_QUEUE, max_retries=0, time_limit=30 * 60_000)
def retrain(min_new_events: int = 1) -> None:
    """Train the next version if at least `min_new_events` transactions (and, for a supervised champion, a
    label) arrived since the newest version's cut; it enters as a challenger. Then evaluate the challengers."""
    # Imported here because training pulls in river, which the API process (it rings `score`) never needs.
    from service.lifecycle.retraining import retrain as retrain_next
    from service.store.lifecycle import LockBusy

    rt = runtime()
    try:
        result = retrain_next(rt.registry, min_new_transactions=max(1, min_new_events),
                              git_commit=rt.settings.git_commit)
    except LockBusy:
        log.info("a retrain or evaluation is running elsewhere; this one is skipped")
        return
    if result is not None:
        log.info("new model version %d (%s): %s", result.version, result.status, result.reason,
                 extra={"model_version": result.version})
        evaluate.send()


@dramatiq.actor(broker=_unstarted, queue_name=MAINTENANCE_QUEUE, max_retries=0)
def evaluate() -> None:
    """Compare every challenger with the champion on shadow evidence; promote or retire on the policy."""
    from service.lifecycle.evaluation import evaluate_challengers
    from service.store.lifecycle import LockBusy

    rt = runtime()
    try:
        evaluate_challengers(rt.registry, rt.settings.promotion_policy)
    except LockBusy:
        log.debug("a retrain or evaluation is running elsewhere; this evaluation is skipped")


@dramatiq.actor(broker=_unstarted, queue_name=MAINTENANCE_QUEUE, max_retries=0, time_limit=30 * 60_000)
def watch_drift() -> None:
    """Run the drift detectors over what the log gained; record detections once, retrain on them
    (service.monitoring.drift_job). The detectors' state is this process's checkpoint."""
    from service.monitoring.drift_job import watch_for
    from service.store.lifecycle import LockBusy

    rt = runtime()
    try:
        if watch_for(rt.registry, rt.settings.drift, rt.settings.git_commit).run():
            evaluate.send()
    except LockBusy:
        log.debug("a retrain or evaluation is running elsewhere; this drift check is skipped")


def ring_score(positions: Sequence[int]) -> None:
    for start in range(0, len(positions), DOORBELL_CHUNK):
        score.send(list(positions[start : start + DOORBELL_CHUNK]))


ACTORS = (score, deliver_alerts, sweep, retrain, evaluate, watch_drift)
_QUEUES = {score: SCORE_QUEUE, deliver_alerts: ALERTS_QUEUE, sweep: MAINTENANCE_QUEUE, retrain: MAINTENANCE_QUEUE,
           evaluate: MAINTENANCE_QUEUE, watch_drift: MAINTENANCE_QUEUE}


def bind(broker: dramatiq.Broker, queue_prefix: str) -> None:
    """Point every actor at `broker` under `<queue_prefix>.<queue>` and make it the global broker."""
    for middleware in (SweepOnBoot, FreezeAfterBoot):
        if not any(isinstance(m, middleware) for m in broker.middleware):
            broker.add_middleware(middleware())
    for actor in ACTORS:
        actor.broker = broker
        actor.queue_name = f"{queue_prefix}.{_QUEUES[actor]}"
        broker.declare_actor(actor)
    dramatiq.set_broker(broker)


def bound_broker() -> dramatiq.Broker:
    """The broker the actors send to (the placeholder until `bind`)."""
    return score.broker
