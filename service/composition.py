"""The composition root: every fraudlog process builds its services here, from one `Settings`.

The API (`service.api.app`), the workers (`workers.runtime`) and the commands (`service.cli.context`) differ
only in which of these they build, so an engine, a registry or a sweeper is made the same way everywhere:
a setting added to `Settings` reaches every process through this one module.

Nothing here touches the broker: the Dramatiq side of a process (its broker, the doorbell, the embedded
worker threads) is started by `workers`, which may import this module but is never imported by it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from service.alerts.relay import sink_from_settings
from service.alerts.sinks import AlertSink
from service.config import RelaySettings, Settings
from service.scoring.registry import ModelRegistry
from service.scoring.scorer import Scorer
from service.scoring.sweeper import Sweeper
from service.store import migrate
from service.store.engine import create_engine
from service.store.event_log import EventLog
from service.store.group_commit import AppendedHook, GroupCommitter


@dataclass
class StoreServices:
    """What every process that reads or writes the log holds: its settings, one engine and the registry."""

    settings: Settings
    engine: Engine
    registry: ModelRegistry

    def close(self) -> None:
        self.engine.dispose()


@dataclass
class WorkerServices(StoreServices):
    """What a worker process holds besides the store: the scorer, the sweeper and the alert delivery."""

    scorer: Scorer
    sweeper: Sweeper
    relay: RelaySettings
    sink: AlertSink

    def close(self) -> None:
        self.scorer.close()  # its batches' connections (`PinglessConnections`)
        super().close()


def open_store(settings: Settings) -> StoreServices:
    """An engine and the registry; in embedded mode the schema is migrated first (there is no deploy step)."""
    engine = create_engine(settings.database_url)
    if settings.embedded:
        migrate.upgrade(engine)
    return StoreServices(settings, engine, ModelRegistry(engine, settings.secret_key))


def build_worker_services(settings: Settings, sink: AlertSink | None = None) -> WorkerServices:
    """What the actors use. Not migrated: in embedded mode the API migrated before starting its workers, and
    elsewhere `fraudlog db upgrade` is the deploy step. `sink` replaces the configured one (tests)."""
    engine = create_engine(settings.database_url)
    registry = ModelRegistry(engine, settings.secret_key)
    scorer = Scorer(engine, registry, allow_environment_drift=settings.allow_environment_drift)
    return WorkerServices(settings, engine, registry, scorer=scorer,
                          sweeper=Sweeper(engine, registry, grace=settings.sweep_grace), relay=settings.relay,
                          sink=sink or build_sink(settings))


def build_sink(settings: Settings) -> AlertSink:
    """The alert sink FRAUDLOG_ALERT_SINK names, signed and timed out as the relay settings say."""
    return sink_from_settings(settings, settings.relay)


def build_committer(store: StoreServices, on_appended: AppendedHook | None = None) -> GroupCommitter:
    """The API's writer: groups concurrent appends into one commit, then calls `on_appended` (the doorbell)."""
    return GroupCommitter(EventLog(store.engine, own_writer=True), on_appended=on_appended)
