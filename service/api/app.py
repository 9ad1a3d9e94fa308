"""The app factory: routes, state, OpenAPI and error handling wired in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

import service
from service.api.alerts import AlertController
from service.api.auth import Authenticator, TokenBucket
from service.api.dashboard import dashboard_router
from service.api.health import health, ready
from service.api.labels import LabelController
from service.api.models import ModelController
from service.api.predict import predict_transaction
from service.api.problems import EXCEPTION_HANDLERS
from service.api.stats import metrics, stats
from service.api.transactions import TransactionController
from service.config import Settings
from service.logs import litestar_logging_config
from service.store import migrate
from service.store.engine import create_engine
from service.store.event_log import EventLog
from service.store.group_commit import AppendedHook, GroupCommitter
from service.store.registry import ModelRegistry


def create_app(settings: Settings | None = None, *, on_appended: AppendedHook | None = None,
               ring_doorbell: bool = True, run_embedded_workers: bool = True,
               extra_lifespans: list[Callable[[Litestar], object]] | None = None) -> Litestar:
    """Build the API. With no arguments it reads the environment, as `uvicorn --factory` needs.

    After each commit the API rings the doorbell (a `score` message with the new positions). With the
    `memory://` broker it also runs the workers in this process (the embedded mode).
    """
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def store_lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        if settings.embedded:
            migrate.upgrade(engine)  # the embedded mode has no separate deploy step
        doorbell = None
        hook = on_appended
        if hook is None and ring_doorbell:
            from workers.doorbell import Doorbell
            from workers.embedded import use_broker

            use_broker(settings.broker_url)
            hook = doorbell = Doorbell()
        committer = GroupCommitter(EventLog(engine), on_appended=hook)
        app.state.settings = settings
        app.state.engine = engine
        app.state.registry = ModelRegistry(engine, settings.secret_key)
        limiter = TokenBucket(settings.rate_limit, settings.rate_burst) if settings.rate_limit > 0 else None
        app.state.authenticator = Authenticator(settings.api_keys, settings.secret_key,
                                                required=settings.auth_required, limiter=limiter)
        app.state.committer = committer
        try:
            async with AsyncExitStack() as stack:
                if settings.broker_url == "memory://" and run_embedded_workers:
                    from workers.embedded import embedded_workers

                    await stack.enter_async_context(embedded_workers(settings))
                yield
        finally:
            committer.close()
            if doorbell is not None:
                doorbell.close()
            engine.dispose()

    return Litestar(
        route_handlers=[TransactionController, LabelController, ModelController, AlertController, predict_transaction,
                        stats, metrics,
                        health, ready, dashboard_router()],
        lifespan=[store_lifespan, *(extra_lifespans or [])],  # type: ignore[list-item]
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        request_max_body_size=settings.max_body_bytes,
        logging_config=litestar_logging_config(),
        openapi_config=OpenAPIConfig(
            title="fraudlog",
            version=service.__version__,
            path="/schema",
            render_plugins=[SwaggerRenderPlugin(), ScalarRenderPlugin()],
            components=Components(security_schemes={"apiKey": SecurityScheme(
                type="http", scheme="bearer", description="an API key: Authorization: Bearer <key>")}),
        ),
    )
