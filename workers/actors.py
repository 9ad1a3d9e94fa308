"""The actors. Messages carry log positions, never payloads: the database is the source of truth.

`dramatiq workers.actors` (or `fraudlog worker`) imports this module; the broker comes from
FRAUDLOG_BROKER_URL. Embedded mode and tests rebind the actors to their own broker with `bind()`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import dramatiq

from service.logs import configure_logging
from workers.broker import broker_from_url
from workers.runtime import runtime

log = logging.getLogger("fraudlog.worker")

DOORBELL_CHUNK = 1_000
# Deployments (and test runs) that share a broker keep apart by prefixing their queue names.
QUEUE_PREFIX = os.environ.get("FRAUDLOG_QUEUE_PREFIX", "fraudlog")
SCORE_QUEUE = f"{QUEUE_PREFIX}.score"
ALERTS_QUEUE = f"{QUEUE_PREFIX}.alerts"
MAINTENANCE_QUEUE = f"{QUEUE_PREFIX}.maintenance"


class SweepOnBoot(dramatiq.Middleware):
    """A worker that starts sweeps once, so events whose doorbell was lost while it was down get scored."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        try:
            sweep.send()
        except Exception:  # the broker may still be coming up; the scheduler sweeps again later
            log.warning("could not enqueue the start-up sweep", exc_info=True)


class StructuredLogging(dramatiq.Middleware):
    """Worker processes started by the dramatiq CLI log as every other fraudlog process does.

    A middleware rather than a call at import: the API and the tests import this module too, and must
    keep their own logging.
    """

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        configure_logging()


broker = broker_from_url(os.environ.get("FRAUDLOG_BROKER_URL", "memory://"))
broker.add_middleware(StructuredLogging())
broker.add_middleware(SweepOnBoot())
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name=SCORE_QUEUE, max_retries=20, min_backoff=200, max_backoff=30_000)
def score(positions: list[int]) -> None:
    """Score these log positions with their champion and challengers; idempotent."""
    report = runtime().scorer.score_positions(positions)
    if report.alerts:
        deliver_alerts.send()


@dramatiq.actor(queue_name=ALERTS_QUEUE, max_retries=3)
def deliver_alerts() -> None:
    """Relay pending outbox rows to the sink (claim, send with Idempotency-Key, mark sent)."""
    from service.alerts.relay import deliver_pending

    rt = runtime()
    deliver_pending(rt.engine, rt.sink, batch_size=rt.relay.batch_size,
                    visibility_timeout=rt.relay.visibility_timeout, max_attempts=rt.relay.max_attempts,
                    base_delay=rt.relay.base_delay, max_delay=rt.relay.max_delay)


@dramatiq.actor(queue_name=MAINTENANCE_QUEUE, max_retries=3)
def sweep() -> None:
    """Re-ring the doorbell for every event past the grace period without a champion prediction."""
    ring_score(runtime().sweeper.find_unscored())
    deliver_alerts.send()


@dramatiq.actor(queue_name=MAINTENANCE_QUEUE, max_retries=0, time_limit=30 * 60_000)
def retrain(min_new_events: int = 1, promote: bool = True) -> None:
    """Retrain the champion on the log since its watermark, if at least `min_new_events` arrived."""
    from service.retrain import new_events_since_watermark
    from service.retrain import retrain as retrain_champion

    rt = runtime()
    if new_events_since_watermark(rt.registry) < max(1, min_new_events):
        return
    result = retrain_champion(rt.registry, promote=promote)
    if result is not None:
        log.info("new model version %d (%s): %s", result.version, result.status, result.reason,
                 extra={"model_version": result.version})


def ring_score(positions: Sequence[int]) -> None:
    for start in range(0, len(positions), DOORBELL_CHUNK):
        score.send(list(positions[start : start + DOORBELL_CHUNK]))


ACTORS = (score, deliver_alerts, sweep, retrain)


def bind(new_broker: dramatiq.Broker) -> None:
    """Point every actor at `new_broker` (embedded mode, tests) and make it the global broker."""
    global broker
    if not any(isinstance(m, SweepOnBoot) for m in new_broker.middleware):
        new_broker.add_middleware(SweepOnBoot())
    for actor in ACTORS:
        actor.broker = new_broker
        new_broker.declare_actor(actor)
    broker = new_broker
    dramatiq.set_broker(new_broker)
