"""What the API's handlers are given: one typed bundle, built by the composition, handed in with `Provide`.

The app keeps the bundle in one place (`app.state.services`, set once by its lifespan); every handler names
the parts it needs as parameters (`registry: ModelRegistry`, `ingest: Ingest`) and Litestar's dependency
injection hands them in. Guards, which Litestar gives no dependencies, read the bundle from the app.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from sqlalchemy.engine import Engine

from fraudlog.api.auth import Authenticator
from fraudlog.api.prometheus import MetricsExposition
from fraudlog.api.readiness import ChampionCheck
from fraudlog.config import Settings
from fraudlog.feed.hub import PredictionHub
from fraudlog.ingest.appending import Ingest
from fraudlog.metrics.stats_cache import StatsCache
from fraudlog.models.registry import ModelRegistry


@dataclass(frozen=True)
class ApiServices:
    """Everything an API process's handlers use; `fraudlog.composition.api_services` builds it."""

    settings: Settings
    engine: Engine
    registry: ModelRegistry  # the registry split (versions, model cache, roles) plugs in here
    ingest: Ingest
    authenticator: Authenticator
    prediction_hub: PredictionHub
    stats_cache: StatsCache
    metrics_exposition: MetricsExposition
    champion_check: ChampionCheck  # one per app: it remembers which versions it has verified


def services_of(app: Litestar) -> ApiServices:
    """The running app's bundle (for guards and tests); only while its lifespan runs."""
    services: ApiServices = app.state.services
    return services


def _part(name: str) -> Provide:
    def provide(state: State) -> Any:
        return getattr(state.services, name)

    return Provide(provide, sync_to_thread=False)


DEPENDENCIES = {part.name: _part(part.name) for part in fields(ApiServices)}
