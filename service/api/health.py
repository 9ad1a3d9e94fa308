"""Liveness and readiness."""

from __future__ import annotations

import sqlalchemy as sa
from litestar import Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec

from service.api.schemas import Health, Readiness


@get("/health", operation_id="health", tags=["operations"], summary="The process is up")
async def health() -> Health:
    return Health(status="ok")


@get("/ready", operation_id="ready", tags=["operations"], summary="The database and the broker are reachable",
     sync_to_thread=True, responses={503: ResponseSpec(Readiness, generate_examples=False,
                                                      description="The database or the broker is unreachable")})
def ready(state: State) -> Response[Readiness]:
    checks: dict[str, str] = {}
    try:
        # TODO(store): `ping(engine)` in service/store/engine.py, so no SQL text lives outside the store.
        with state.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    broker_check = getattr(state, "broker_check", None)
    if broker_check is not None:
        checks["broker"] = broker_check()
    ok = all(value == "ok" for value in checks.values())
    return Response(Readiness(status="ok" if ok else "unavailable", checks=checks), status_code=200 if ok else 503)
