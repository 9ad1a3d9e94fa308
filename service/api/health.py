"""Liveness and readiness."""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec

import service
from service.api.schemas import Health, Readiness
from service.store.engine import check_reachable


@get("/health", operation_id="health", tags=["operations"], summary="The process is up")
async def health() -> Health:
    return Health(status="ok", version=service.__version__)


@get("/ready", operation_id="ready", tags=["operations"], summary="The database and the broker are reachable",
     sync_to_thread=True, responses={503: ResponseSpec(Readiness, generate_examples=False,
                                                      description="The database or the broker is unreachable")})
def ready(state: State) -> Response[Readiness]:
    checks: dict[str, str] = {}
    try:
        check_reachable(state.engine)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    broker_check = getattr(state, "broker_check", None)
    if broker_check is not None:
        checks["broker"] = broker_check()
    ok = all(value == "ok" for value in checks.values())
    return Response(Readiness(status="ok" if ok else "unavailable", checks=checks), status_code=200 if ok else 503)
