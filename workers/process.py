"""Starting a process's Dramatiq side: the broker from the settings, with the actors bound to it.

Every process that sends or runs actors calls one of these when it starts, never at import: the API
(through `fraudlog.workers.wiring`), the scheduler, and a worker process (`dramatiq fraudlog.workers.actors`, which is
what `fraudlog worker` runs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dramatiq
from dramatiq.brokers.stub import StubBroker

from fraudlog.config import SECRET_KEY, Settings
from fraudlog.tracing import configure_tracing
from fraudlog.workers import tasks
from fraudlog.workers.broker import broker_from_url
from fraudlog.workers.burst import BurstProcess
from fraudlog.workers.middleware import sending_process_middleware, worker_process_middleware
from fraudlog.workers.tracing import TracingMiddleware

if TYPE_CHECKING:
    from fraudlog.composition import WorkerServices


def start_broker(settings: Settings) -> dramatiq.Broker:
    """Bind the actors to a broker for `settings.broker_url` in this process, and return it.

    With `memory://` an in-process broker that is already bound is kept: the embedded API and its worker
    threads must share one, and a second API in the same process (tests) joins the first.
    """
    configure_tracing(settings.observability.tracing)
    current = tasks.bound_broker()
    broker: dramatiq.Broker
    if settings.broker_url == "memory://" and isinstance(current, StubBroker) and \
            not isinstance(current, tasks.UnstartedBroker):
        broker = current
        forget_stopped_workers(broker)
        if settings.observability.tracing and not any(isinstance(m, TracingMiddleware) for m in broker.middleware):
            broker.add_middleware(TracingMiddleware())
    else:
        broker = broker_from_url(settings.broker_url, sending_process_middleware(settings.observability.tracing))
    tasks.bind(broker, settings.queue_prefix)
    return broker


def forget_stopped_workers(broker: dramatiq.Broker) -> None:
    """Take the hooks of workers no longer running off an in-process broker, which outlives them.

    Dramatiq leaves a stopped worker's hook on its broker: a queue declared later (another API in the process
    with its own queue prefix) got a consumer of the stopped worker, which took that queue's messages into a
    work queue no thread reads, and they waited for the sweeper (tests/integration/test_embedded_restart.py)."""
    broker.middleware[:] = [middleware for middleware in broker.middleware
                            if not _stopped(getattr(middleware, "worker", None))]


def _stopped(worker: object) -> bool:
    return isinstance(worker, dramatiq.Worker) and not any(thread.is_alive() for thread in worker.workers)


def start_worker_process(settings: Settings | None = None) -> dramatiq.Broker:
    """A Dramatiq worker process: settings from the environment (the secret key is required, to verify model
    artifacts), the broker with fraudlog's logging and start-up sweep, and the jobs its actors run (their
    services are built on the first message, after Dramatiq forked the process)."""
    settings = (settings or Settings.from_env()).require(SECRET_KEY)
    configure_tracing(settings.observability.tracing)
    broker = broker_from_url(settings.broker_url, worker_process_middleware(settings, tasks.StructuredLogging()))
    tasks.bind(broker, settings.queue_prefix)
    jobs = tasks.WorkerJobs(lambda: _worker_services(settings), bursts=BurstProcess(settings))
    broker.add_middleware(CloseJobsAtShutdown(jobs))
    tasks.run_jobs(broker, jobs)
    return broker


class CloseJobsAtShutdown(dramatiq.Middleware):
    """A worker process that stops closes its jobs: above all its burst process, which would otherwise keep
    the process from exiting (multiprocessing joins its children at exit)."""

    def __init__(self, jobs: tasks.WorkerJobs) -> None:
        self._jobs = jobs

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._jobs.close()


def _worker_services(settings: Settings) -> WorkerServices:
    # Imported on the first message, after Dramatiq's Prometheus middleware set up the worker's metrics
    # directory: the composition imports prometheus_client, which picks its value store when first imported
    # (a worker that imported it at start-up exported nothing: tests/integration/test_worker_metrics.py).
    from fraudlog.composition import worker_services

    return worker_services(settings)
