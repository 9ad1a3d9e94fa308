"""Liveness and readiness."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

import fraudlog
from fraudlog.api.readiness import OK, ChampionCheck, broker_check, database_check
from fraudlog.api.schemas import Health, Readiness
from fraudlog.config import Settings
from fraudlog.models.registry import ModelRegistry


@get("/health", operation_id="health", tags=["operations"], summary="The process is up")
async def health() -> Health:
    return Health(status="ok", version=fraudlog.__version__)


@get("/ready", operation_id="ready", tags=["operations"],
     summary="The database and the broker are reachable, and the champion's artifact verifies",
     sync_to_thread=True, responses={503: ResponseSpec(
         Readiness, generate_examples=False,
         description="The database or the broker is unreachable, or the champion's artifact is refused; "
                     "`checks` names which")})
def ready(settings: NamedDependency[Settings], registry: NamedDependency[ModelRegistry],
          champion_check: NamedDependency[ChampionCheck]) -> Response[Readiness]:
    checks = {"database": database_check(registry)}
    broker = broker_check(settings.broker_url)
    if broker is not None:
        checks["broker"] = broker
    if checks["database"] == OK:
        champion = champion_check(registry)
        if champion is not None:
            checks["champion"] = champion
    ok = all(value == OK for value in checks.values())
    return Response(Readiness(status="ok" if ok else "unavailable", checks=checks), status_code=200 if ok else 503)

