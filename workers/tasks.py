"""The actors. Messages carry log positions, never payloads: the database is the source of truth.

Importing this module has no side effect: the actors' handles are declared on a placeholder that refuses to
send, and `bind` points them at the process's broker, under the deployment's queue names, when the process
starts (`fraudlog.workers.process.start_broker`). So the API, the scheduler and the tests import them freely.

The bodies are `WorkerJobs` methods over the process's `WorkerServices` (built by `fraudlog.composition`);
`run_jobs` hands them to the broker in the processes that run actors (a worker, the embedded mode). There
is no global lookup of services: a process's broker runs the jobs it was given.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import dramatiq
from dramatiq.brokers.stub import StubBroker

from fraudlog.alerts.relay import DeliveryReport, deliver_pending
from fraudlog.alerts.schedule import RetrySchedule
from fraudlog.gc_tuning import freeze_long_lived_objects
from fraudlog.logs import configure_logging, position_ranges
from fraudlog.ml.environment import EnvironmentMismatch
from fraudlog.workers.delivery import DeliveryThread

if TYPE_CHECKING:
    # Not at run time: the composition imports prometheus_client, and a worker process must import it only
    # after Dramatiq's Prometheus middleware has chosen its multiprocess directory (fraudlog.workers.middleware).
    from fraudlog.composition import WorkerServices
    from fraudlog.workers.burst import BurstProcess

log = logging.getLogger("fraudlog.worker")

DOORBELL_CHUNK = 1_000
# A `score` message of more than SMALL_BATCH positions is a burst's: it is scored BULK_CHUNK positions at a time,
# one chunk per process (in the process's burst process, when it has one); a burst's message that finds a chunk
# running in its process waits BULK_RETRY_DELAY_MS, off the threads.
SMALL_BATCH = 250
BULK_CHUNK = 1_000
BULK_RETRY_DELAY_MS = 50
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
        raise BrokerNotStarted("no broker in this process yet: call fraudlog.workers.process.start_broker(settings) "
                               "first")


class SweepOnBoot(dramatiq.Middleware):
    """A worker that starts sweeps once, so events whose doorbell was lost while it was down get scored."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        try:
            sweep.send()
        except Exception:  # the broker may still be coming up; the scheduler sweeps again later
            log.warning("could not enqueue the start-up sweep", exc_info=True)


class FreezeAfterBoot(dramatiq.Middleware):
    """Once a worker has booted, what its process holds is excluded from full garbage collections
    (`fraudlog.gc_tuning`): a full pass over it paused every batch in flight for ~100 ms."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        freeze_long_lived_objects()


class StructuredLogging(dramatiq.Middleware):
    """Worker processes started by the dramatiq CLI log as every other fraudlog process does.

    A middleware rather than a call at start: the dramatiq CLI configures its own logging after importing
    the broker module, and this hook runs after that.
    """

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        configure_logging()


class NotRunHere(RuntimeError):
    """An actor's handle was called in a process that sends it and does not run it."""


class WorkerJobs:
    """The actors' bodies over one process's worker services, given to the broker with `run_jobs`.

    The services are built on the first message, so after Dramatiq forks its worker processes (an engine's
    connections must not cross a fork). Alert delivery runs on this object's own thread (`DeliveryThread`).
    """

    def __init__(self, build: Callable[[], WorkerServices], *, eager: bool = False,
                 bursts: BurstProcess | None = None) -> None:
        """`eager` builds the services now (the embedded mode: a broken setting fails the start, not the first
        message); otherwise on the first message. `bursts` scores a burst's chunks in a child process (worker
        processes); without it they are scored on the thread that took the message (the embedded mode)."""
        self._build = build
        self._bursts = bursts
        # Burst chunks at once in this process: on the thread, one; with a burst process, the one it scores
        # and the next, waiting in its queue, so that it never idles while a bounced message comes back.
        self._bulk_slots = threading.Semaphore(1 if bursts is None else 2)
        self._services: WorkerServices | None = build() if eager else None
        self._delivery: DeliveryThread | None = None
        self._lock = threading.Lock()

    @property
    def services(self) -> WorkerServices:
        if self._services is None:
            with self._lock:
                if self._services is None:
                    self._services = self._build()
                    if self._bursts is not None:
                        self._bursts.start()
        return self._services

    def score(self, positions: list[int]) -> None:
        """A message of more than `SMALL_BATCH` positions (a burst, often one hot card's) is scored a chunk at
        a time, one chunk per process at once, in the process's burst process, the rest sent to the back of the
        queue: other cards' messages never wait for a burst's chunk, for a thread or for the interpreter
        (docs/features.md, "Isolation")."""
        if len(positions) <= SMALL_BATCH:
            self._score_now(positions)
            return
        if not self._bulk_slots.acquire(blocking=False):
            # Another chunk of a burst runs in this process: this one waits its turn off the threads.
            score.send_with_options(args=(positions,), delay=BULK_RETRY_DELAY_MS)
            return
        try:
            self._score_now(positions[:BULK_CHUNK], self._bursts)
        finally:
            self._bulk_slots.release()
        if len(positions) > BULK_CHUNK:
            score.send(positions[BULK_CHUNK:])

    def _score_now(self, positions: list[int], bursts: BurstProcess | None = None) -> None:
        try:
            report = (bursts or self.services.scorer).score_positions(positions)
        except EnvironmentMismatch as exc:
            # Permanent for this process, so no retries: the events stay unscored (the backlog shows them) and
            # the sweeper rings them again for a worker that may score them, or this one once the operator
            # allows it.
            log.error(str(exc), extra={"model_version": exc.version})
            return
        log.info("scored %d events", report.events, extra={
            "positions": position_ranges(positions), "predictions": report.predictions, "alerts": report.alerts})
        if report.alerts:
            # This process's own delivery thread, woken directly: through the broker (`deliver_alerts`), every
            # batch with an alert cost a publish and its confirm on the scoring thread, and landed in this
            # process or another's thread doing the same thing.
            self.deliver_alerts()

    def deliver_alerts(self) -> None:
        with self._lock:
            if self._delivery is None:  # started on first use: after Dramatiq forked the process
                self._delivery = DeliveryThread(self.deliver_due_alerts)
            delivery = self._delivery
        delivery.ring()

    def deliver_due_alerts(self) -> DeliveryReport:
        """One relay run: claim due outbox rows, send them to the sink, mark them sent."""
        services = self.services
        relay = services.relay
        return deliver_pending(services.engine, services.sink, batch_size=relay.batch_size,
                               visibility_timeout=relay.visibility_timeout, schedule=RetrySchedule.of(relay))

    def sweep(self) -> None:
        ring_score(self.services.sweeper.find_unscored())
        deliver_alerts.send()

    def retrain(self, min_new_events: int = 1) -> None:
        # Imported here because training pulls in river, which the API process (it rings `score`) never needs.
        from fraudlog.lifecycle.retraining import retrain as retrain_next
        from fraudlog.store.lifecycle import LockBusy

        services = self.services
        try:
            result = retrain_next(services.registry, min_new_transactions=max(1, min_new_events),
                                  git_commit=services.settings.git_commit)
        except LockBusy:
            log.info("a retrain or evaluation is running elsewhere; this one is skipped")
            return
        if result is not None:
            log.info("new model version %d (%s): %s", result.version, result.status, result.reason,
                     extra={"model_version": result.version})
            evaluate.send()

    def evaluate(self) -> None:
        from fraudlog.lifecycle.evaluation import evaluate_challengers
        from fraudlog.store.lifecycle import LockBusy

        services = self.services
        try:
            evaluate_challengers(services.registry, services.policy)
        except LockBusy:
            log.debug("a retrain or evaluation is running elsewhere; this evaluation is skipped")

    def watch_drift(self) -> None:
        # The detectors' state is this process's checkpoint (`watch_for` keeps one watch per registry).
        from fraudlog.monitoring.drift_job import watch_for
        from fraudlog.store.lifecycle import LockBusy

        services = self.services
        try:
            if watch_for(services.registry, services.settings.drift, services.settings.git_commit).run():
                evaluate.send()
        except LockBusy:
            log.debug("a retrain or evaluation is running elsewhere; this drift check is skipped")

    def close(self) -> None:
        """Stop the delivery thread (an alert in flight is resent after its lease) and close the services."""
        with self._lock:
            delivery, self._delivery = self._delivery, None
            services, self._services = self._services, None
        if delivery is not None:
            delivery.stop()
        if self._bursts is not None:
            self._bursts.close()
        if services is not None:
            services.close()


# The actors' handles: what every process sends. Their bodies run only where `run_jobs` gave the broker a
# `WorkerJobs` (worker processes, the embedded mode); anywhere else, calling one is a bug, said loudly.
_unstarted = UnstartedBroker()


@dramatiq.actor(broker=_unstarted, queue_name=SCORE_QUEUE, max_retries=20, min_backoff=200, max_backoff=30_000)
def score(positions: list[int]) -> None:
    """Score these log positions with their champion and challengers; idempotent."""
    raise NotRunHere("score")


@dramatiq.actor(broker=_unstarted, queue_name=ALERTS_QUEUE, max_retries=3)
def deliver_alerts() -> None:
    """Wake the delivery thread, which relays due outbox rows to the sink (claim, send, mark sent). Returns at
    once: sending on a worker thread let a hanging receiver starve `score` of threads."""
    raise NotRunHere("deliver_alerts")


@dramatiq.actor(broker=_unstarted, queue_name=MAINTENANCE_QUEUE, max_retries=3)
def sweep() -> None:
    """Re-ring the doorbell for every event past the grace period without a champion prediction."""
    raise NotRunHere("sweep")


@dramatiq.actor(broker=_unstarted, queue_name=MAINTENANCE_QUEUE, max_retries=0, time_limit=30 * 60_000)
def retrain(min_new_events: int = 1) -> None:
    """Train the next version if at least `min_new_events` transactions (and, for a supervised champion, a
    label) arrived since the newest version's cut; it enters as a challenger. Then evaluate the challengers."""
    raise NotRunHere("retrain")


@dramatiq.actor(broker=_unstarted, queue_name=MAINTENANCE_QUEUE, max_retries=0)
def evaluate() -> None:
    """Compare every challenger with the champion on shadow evidence; promote or retire on the policy."""
    raise NotRunHere("evaluate")


@dramatiq.actor(broker=_unstarted, queue_name=MAINTENANCE_QUEUE, max_retries=0, time_limit=30 * 60_000)
def watch_drift() -> None:
    """Run the drift detectors over what the log gained; record detections once, retrain on them
    (fraudlog.monitoring.drift_job)."""
    raise NotRunHere("watch_drift")


def ring_score(positions: Sequence[int]) -> None:
    for start in range(0, len(positions), DOORBELL_CHUNK):
        score.send(list(positions[start : start + DOORBELL_CHUNK]))


ACTORS = (score, deliver_alerts, sweep, retrain, evaluate, watch_drift)
_QUEUES = {score: SCORE_QUEUE, deliver_alerts: ALERTS_QUEUE, sweep: MAINTENANCE_QUEUE, retrain: MAINTENANCE_QUEUE,
           evaluate: MAINTENANCE_QUEUE, watch_drift: MAINTENANCE_QUEUE}


def bind(broker: dramatiq.Broker, queue_prefix: str) -> None:
    """Point every actor's handle at `broker` under `<queue_prefix>.<queue>` and make it the global broker.

    Jobs the broker already runs keep running (a second embedded API in one process joins the first)."""
    for middleware in (SweepOnBoot, FreezeAfterBoot):
        if not any(isinstance(m, middleware) for m in broker.middleware):
            broker.add_middleware(middleware())
    running = _running_jobs(broker)
    for actor in ACTORS:
        actor.broker = broker
        actor.queue_name = f"{queue_prefix}.{_QUEUES[actor]}"
        broker.declare_actor(actor)
    if running is not None:
        run_jobs(broker, running)
    dramatiq.set_broker(broker)


def run_jobs(broker: dramatiq.Broker, jobs: WorkerJobs | None) -> WorkerJobs | None:
    """Have `broker`'s workers run the actors with `jobs` (None: no bodies here, the handles only); returns
    the jobs it ran before. Call after `bind`: the running actors take the handles' queue names and options."""
    previous = _running_jobs(broker)
    for handle in ACTORS:
        if jobs is None:
            broker.declare_actor(handle)
        else:  # the handle's name, queue and options, with the jobs' body (Dramatiq refuses a second Actor())
            running = copy.copy(handle)
            running.fn = getattr(jobs, handle.actor_name)
            broker.declare_actor(running)
    return previous


def _running_jobs(broker: dramatiq.Broker) -> WorkerJobs | None:
    jobs = getattr(getattr(broker.actors.get(score.actor_name), "fn", None), "__self__", None)
    return jobs if isinstance(jobs, WorkerJobs) else None


def actor_named(name: str) -> dramatiq.Actor[..., None]:
    """The handle of the actor called `name` (what a `ScheduledJob` names)."""
    [handle] = [actor for actor in ACTORS if actor.actor_name == name]
    return handle


def bound_broker() -> dramatiq.Broker:
    """The broker the actors send to (the placeholder until `bind`)."""
    return score.broker
