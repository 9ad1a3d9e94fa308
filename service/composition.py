"""The composition root: every fraudlog process builds its services here, from one `Settings`.

Each kind of process gets one typed bundle: the API `ApiServices` (`api_services`, handed to its handlers by
dependency injection), a worker `WorkerServices` (`worker_services`), a command `StoreServices`
(`open_store`); and the embedded mode and `fraudlog scheduler` run the one `job_schedule`. So an engine, a
registry or a sweeper is made the same way everywhere, and a setting added to `Settings` reaches every
process through this one module. `Settings.from_env()` is called by the entry points only (the commands,
`fraudlog.workers.wiring.served_app`, `fraudlog.workers.process.start_worker_process`), which pass the settings here.

Nothing here touches the broker: the Dramatiq side of a process (its broker, the doorbell, the embedded
worker threads) is started by `fraudlog.workers`, which imports this module and is never imported by it; what it
plugs into the API comes in as `wiring`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from litestar import Litestar
from sqlalchemy.engine import Engine

from fraudlog.alerts.relay import sink_from_settings
from fraudlog.alerts.sinks import AlertSink
from fraudlog.api.app import create_app
from fraudlog.api.auth import Authenticator, TokenBucket
from fraudlog.api.dependencies import ApiServices
from fraudlog.api.prometheus import MetricsExposition
from fraudlog.api.readiness import ChampionCheck
from fraudlog.config import RelaySettings, RetrainSchedule, Settings
from fraudlog.domain.alert_window import AlertWindow
from fraudlog.domain.drift_settings import DriftSettings
from fraudlog.feed.hub import PredictionHub
from fraudlog.ingest.appending import Ingest
from fraudlog.ingest.group_commit import AppendedHook, GroupCommitter
from fraudlog.lifecycle.promotion import PromotionPolicy
from fraudlog.metrics.database import DatabaseFigures
from fraudlog.metrics.latency import LatencyHistograms
from fraudlog.metrics.quality import CurrentWindows, QualityCollector
from fraudlog.metrics.stats_cache import StatsCache
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from fraudlog.scoring.sweeper import Sweeper
from fraudlog.store import migrate
from fraudlog.store.engine import create_engine
from fraudlog.store.event_log import EventLog
from fraudlog.views.models import model_descriptions

# What the process building the app plugs into it (`fraudlog.workers.wiring.broker_wiring`): entered at startup, after
# the embedded mode's migrations, it yields the hook to call after each commit (the doorbell) and keeps
# running whatever must live as long as the app (the embedded worker threads).
AppWiring = Callable[[Settings], AbstractAsyncContextManager[AppendedHook | None]]


@dataclass
class StoreServices:
    """What every process that reads or writes the log holds: its settings, one engine and the registry.

    The registry split (a version store, a model cache for scoring, the role-assignment use case) replaces
    `registry` here and in the two bundles below, built once in `_registry`."""

    settings: Settings
    engine: Engine
    registry: ModelRegistry

    def close(self) -> None:
        self.engine.dispose()


@dataclass
class WorkerServices(StoreServices):
    """What a worker process's actors use besides the store: scorer, sweeper, alert delivery, promotion policy."""

    scorer: Scorer
    sweeper: Sweeper
    relay: RelaySettings
    sink: AlertSink
    policy: PromotionPolicy

    def close(self) -> None:
        self.scorer.close()  # its batches' connections (`PinglessConnections`)
        super().close()


def _registry(engine: Engine, settings: Settings) -> ModelRegistry:
    return ModelRegistry(engine, settings.secret_key)


def open_store(settings: Settings) -> StoreServices:
    """An engine and the registry; in embedded mode the schema is migrated first (there is no deploy step)."""
    engine = create_engine(settings.database_url)
    if settings.embedded:
        migrate.upgrade(engine)
    return StoreServices(settings, engine, _registry(engine, settings))


def worker_services(settings: Settings, sink: AlertSink | None = None) -> WorkerServices:
    """What the actors use. Not migrated: in embedded mode the API migrated before starting its workers, and
    elsewhere `fraudlog db upgrade` is the deploy step. `sink` replaces the configured one (tests)."""
    engine = create_engine(settings.database_url)
    registry = _registry(engine, settings)
    return WorkerServices(settings, engine, registry, scorer=_scorer(engine, registry, settings),
                          sweeper=Sweeper(engine, registry, grace=settings.sweep_grace), relay=settings.relay,
                          sink=sink or build_sink(settings), policy=promotion_policy(settings))


def burst_scorer(settings: Settings) -> Scorer:
    """A scorer on an engine and a registry of its own, for a worker's burst process (`fraudlog.workers.burst`): its
    worker process reports a refused artifact, so this one only records it."""
    engine = create_engine(settings.database_url)
    return _scorer(engine, _registry(engine, settings), settings, reports_refusals=False)


def _scorer(engine: Engine, registry: ModelRegistry, settings: Settings, *, reports_refusals: bool = True) -> Scorer:
    return Scorer(engine, registry, allow_environment_drift=settings.allow_environment_drift,
                  alert_window=AlertWindow(settings.alert_coalesce_window), reports_refusals=reports_refusals)


def promotion_policy(settings: Settings) -> PromotionPolicy:
    """When a challenger is promoted or retired on its shadow evidence (FRAUDLOG_PROMOTION_*)."""
    return PromotionPolicy(min_frauds=settings.promotion_min_frauds, confidence=settings.promotion_confidence,
                           max_challengers=settings.max_challengers)


def build_sink(settings: Settings) -> AlertSink:
    """The alert sink FRAUDLOG_ALERT_SINK names, signed and timed out as the relay settings say."""
    return sink_from_settings(settings, settings.relay)


# -- the API ---------------------------------------------------------------------------------------------------

def build_app(settings: Settings, wiring: AppWiring | None = None,
              extra_lifespans: list[Callable[[Litestar], object]] | None = None) -> Litestar:
    """The API for `settings`, its services opened by `api_services` when it starts. Without `wiring` the API
    appends and answers but rings nothing (tests, benchmarks of the API alone)."""
    return create_app(settings, lambda: api_services(settings, wiring), extra_lifespans)


@asynccontextmanager
async def api_services(settings: Settings, wiring: AppWiring | None = None) -> AsyncIterator[ApiServices]:
    """What an API process's handlers use, for as long as the block runs: the store first (migrated in
    embedded mode), then the wiring (whose embedded workers need the schema), then the writer it rings."""
    store = open_store(settings)
    try:
        async with (wiring or _no_wiring)(settings) as on_appended:
            committer = GroupCommitter(EventLog(store.engine, own_writer=True), on_appended=on_appended)
            try:
                yield _api_bundle(store, Ingest(committer, limits=settings.limits,
                                                 max_batch_items=settings.max_batch_items))
            finally:
                committer.close()
    finally:
        store.close()


def _api_bundle(store: StoreServices, ingest: Ingest) -> ApiServices:
    settings, engine, registry = store.settings, store.engine, store.registry
    limiter = TokenBucket(settings.rate_limit, settings.rate_burst) if settings.rate_limit > 0 else None
    stats_cache = StatsCache(engine)
    # Counting starts with the app, as a Prometheus counter's does.
    latency = LatencyHistograms(engine, settings.observability.latency_settle)
    exposition = MetricsExposition(
        lambda: DatabaseFigures(stats_cache.read(), model_descriptions(registry), latency.read()),
        settings.observability.prometheus_multiproc_dir, [QualityCollector(CurrentWindows(registry))])
    return ApiServices(
        settings=settings, engine=engine, registry=registry, ingest=ingest,
        authenticator=Authenticator(settings.api_keys, settings.secret_key, required=settings.auth_required,
                                    limiter=limiter),
        prediction_hub=PredictionHub(engine, registry, settings.feed), stats_cache=stats_cache,
        metrics_exposition=exposition, champion_check=ChampionCheck())


@asynccontextmanager
async def _no_wiring(settings: Settings) -> AsyncIterator[None]:
    yield None


# -- the schedule ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SchedulePeriods:
    """Seconds between runs of each periodic job; the retrain period comes from FRAUDLOG_RETRAIN_EVERY."""

    sweep: float
    deliver_alerts: float
    evaluate: float
    retrain_check: float  # how often a count-based schedule ("5000 transactions") looks at the count


# `fraudlog scheduler`'s defaults (its options change them); the embedded mode runs tighter, one process
# on one small database, so a demo shows scoring, alerts and promotions within seconds.
SCHEDULER_PERIODS = SchedulePeriods(sweep=10.0, deliver_alerts=5.0, evaluate=10.0, retrain_check=5.0)
EMBEDDED_PERIODS = SchedulePeriods(sweep=5.0, deliver_alerts=5.0, evaluate=2.0, retrain_check=2.0)


@dataclass(frozen=True)
class ScheduledJob:
    """Send the actor named `actor` with `args` every `seconds`."""

    actor: str
    seconds: float
    args: tuple[int, ...] = ()


def job_schedule(retrain_every: RetrainSchedule, periods: SchedulePeriods,
                 drift: DriftSettings | None = None) -> list[ScheduledJob]:
    """The deployment's periodic jobs, the same for `fraudlog scheduler` and the embedded mode: sweep (which
    re-rings unscored events), alert delivery, evaluation of the challengers, retraining on
    FRAUDLOG_RETRAIN_EVERY (a period, or a count of new transactions checked every `retrain_check`), and the
    drift watch every FRAUDLOG_DRIFT_EVERY when FRAUDLOG_DRIFT is on (docs/drift.md)."""
    jobs = [ScheduledJob("sweep", periods.sweep), ScheduledJob("deliver_alerts", periods.deliver_alerts),
            ScheduledJob("evaluate", periods.evaluate)]
    if retrain_every.seconds is not None:
        jobs.append(ScheduledJob("retrain", retrain_every.seconds))
    else:
        jobs.append(ScheduledJob("retrain", periods.retrain_check, (retrain_every.events or 1,)))
    if drift is not None and drift.enabled:
        jobs.append(ScheduledJob("watch_drift", drift.every_seconds))
    return jobs


def describe_schedule(jobs: list[ScheduledJob]) -> str:
    """One line for the operator: `sweep every 10 s, ..., retrain every 5000 new transactions`."""
    parts = []
    for job in jobs:
        if job.actor == "retrain" and job.args:
            parts.append(f"retrain every {job.args[0]} new transactions (checked every {job.seconds:g} s)")
        else:
            parts.append(f"{job.actor} every {job.seconds:g} s")
    return ", ".join(parts)
