"""The app factory: routes, state, OpenAPI and error handling wired in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

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
from service.api.predictions import PredictionController, prediction_feed
from service.api.problems import EXCEPTION_HANDLERS
from service.api.stats import metrics, stats
from service.api.transactions import TransactionController
from service.composition import build_committer, open_store
from service.config import Settings
from service.logs import litestar_logging_config
from service.store.group_commit import AppendedHook

AppWiring = Callable[[Settings], AbstractAsyncContextManager[AppendedHook | None]]


def create_app(settings: Settings, *, wiring: AppWiring | None = None,
               extra_lifespans: list[Callable[[Litestar], object]] | None = None) -> Litestar:
    """Build the API for `settings`.

    `wiring` is what the process building the app plugs into it: a context entered at startup, after the
    embedded mode's migrations, that yields the hook to call after each commit (the doorbell that rings
    `score` with the new positions) and keeps running whatever must live as long as the app (the embedded
    mode's worker threads). `workers.wiring.broker_wiring` is the one real processes use; without it the
    API appends and answers but rings nothing (tests, benchmarks of the API alone).
    """

    @asynccontextmanager
    async def store_lifespan(app: Litestar) -> AsyncIterator[None]:
        store = open_store(settings)
        try:
            async with (wiring or _no_wiring)(settings) as on_appended:
                committer = build_committer(store, on_appended)
                app.state.settings = settings
                app.state.engine = store.engine
                app.state.registry = store.registry
                limiter = TokenBucket(settings.rate_limit, settings.rate_burst) if settings.rate_limit > 0 else None
                app.state.authenticator = Authenticator(settings.api_keys, settings.secret_key,
                                                        required=settings.auth_required, limiter=limiter)
                app.state.committer = committer
                try:
                    yield
                finally:
                    committer.close()
        finally:
            store.close()

    return Litestar(
        route_handlers=[TransactionController, LabelController, ModelController, AlertController, predict_transaction,
                        PredictionController, stats, metrics,
                        health, ready, dashboard_router()],
        lifespan=[store_lifespan, prediction_feed, *(extra_lifespans or [])],  # type: ignore[list-item]
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


@asynccontextmanager
async def _no_wiring(settings: Settings) -> AsyncIterator[None]:
    yield None
