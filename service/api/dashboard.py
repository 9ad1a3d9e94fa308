"""`GET /`: the operator's dashboard (to be built: issue 7)."""

from __future__ import annotations

from litestar import Router


def dashboard_router() -> Router:
    return Router(path="/", route_handlers=[])
