"""What a worker process holds: settings, one engine, the model registry (a cache of verified versions),
the scorer and the alert sink. Built lazily, once per process, so it is created after Dramatiq forks."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from service.alerts.relay import RelaySettings, sink_from_settings
from service.alerts.sinks import AlertSink
from service.config import Settings
from service.scoring.scorer import Scorer
from service.scoring.sweeper import Sweeper
from service.store.engine import create_engine
from service.store.registry import ModelRegistry


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    registry: ModelRegistry
    scorer: Scorer
    sweeper: Sweeper
    relay: RelaySettings
    sink: AlertSink

    def close(self) -> None:
        self.engine.dispose()


_runtime: Runtime | None = None
_lock = threading.Lock()


def build_runtime(settings: Settings, sink: AlertSink | None = None) -> Runtime:
    engine = create_engine(settings.database_url)
    registry = ModelRegistry(engine, settings.secret_key)
    relay = RelaySettings.from_env()
    return Runtime(settings, engine, registry, Scorer(engine, registry), Sweeper(engine, registry), relay,
                   sink or sink_from_settings(settings, relay))


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = build_runtime(Settings.from_env())
    return _runtime


def install_runtime(new: Runtime | None) -> Runtime | None:
    """Use `new` in this process (embedded mode and tests); returns the previous one."""
    global _runtime
    with _lock:
        previous, _runtime = _runtime, new
    return previous
