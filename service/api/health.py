"""Liveness and readiness."""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec

import service
from service.api.readiness import OK, ChampionCheck, broker_check, database_check
from service.api.schemas import Health, Readiness


@get("/health", operation_id="health", tags=["operations"], summary="The process is up")
async def health() -> Health:
    return Health(status="ok", version=service.__version__)


@get("/ready", operation_id="ready", tags=["operations"],
     summary="The database and the broker are reachable, and the champion's artifact verifies",
     sync_to_thread=True, responses={503: ResponseSpec(
         Readiness, generate_examples=False,
         description="The database or the broker is unreachable, or the champion's artifact is refused; "
                     "`checks` names which")})
def ready(state: State) -> Response[Readiness]:
    checks = {"database": database_check(state.registry)}
    broker = broker_check(state.settings.broker_url)
    if broker is not None:
        checks["broker"] = broker
    if checks["database"] == OK:
        champion = _champion_check(state)(state.registry)
        if champion is not None:
            checks["champion"] = champion
    ok = all(value == OK for value in checks.values())
    return Response(Readiness(status="ok" if ok else "unavailable", checks=checks), status_code=200 if ok else 503)


def _champion_check(state: State) -> ChampionCheck:
    # One per app, kept in its state: it remembers which versions it has verified.
    check: ChampionCheck | None = getattr(state, "champion_check", None)
    if check is None:
        check = state.champion_check = ChampionCheck()
    return check
