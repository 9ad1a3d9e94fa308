"""What most commands need: settings, an engine (migrated in embedded mode) and the registry."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from service.config import Settings
from service.store import migrate
from service.store.engine import create_engine
from service.store.registry import ModelRegistry


@dataclass
class StoreContext:
    settings: Settings
    engine: Engine
    registry: ModelRegistry


def open_store(settings: Settings | None = None) -> StoreContext:
    settings = settings or Settings.from_env()
    engine = create_engine(settings.database_url)
    if settings.embedded:
        migrate.upgrade(engine)
    return StoreContext(settings, engine, ModelRegistry(engine, settings.secret_key))
