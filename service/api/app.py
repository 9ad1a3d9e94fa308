"""The app factory: routes, state, OpenAPI and error handling wired in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin

import service
from service.api.health import health, ready
from service.api.labels import LabelController
from service.api.problems import EXCEPTION_HANDLERS
from service.api.transactions import TransactionController
from service.config import Settings
from service.store import migrate
from service.store.engine import create_engine
from service.store.event_log import EventLog
from service.store.group_commit import AppendedHook, GroupCommitter


def create_app(settings: Settings | None = None, *, on_appended: AppendedHook | None = None,
               extra_lifespans: list[Callable[[Litestar], object]] | None = None) -> Litestar:
    """Build the API. With no arguments it reads the environment, as `uvicorn --factory` needs."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def store_lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        if settings.embedded:
            migrate.upgrade(engine)  # the embedded mode has no separate deploy step
        committer = GroupCommitter(EventLog(engine), on_appended=on_appended)
        app.state.settings = settings
        app.state.engine = engine
        app.state.committer = committer
        try:
            yield
        finally:
            committer.close()
            engine.dispose()

    return Litestar(
        route_handlers=[TransactionController, LabelController, health, ready],
        lifespan=[store_lifespan, *(extra_lifespans or [])],  # type: ignore[list-item]
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="fraudlog",
            version=service.__version__,
            path="/schema",
            render_plugins=[SwaggerRenderPlugin(), ScalarRenderPlugin()],
        ),
    )
