"""The app factory: routes, state, OpenAPI and error handling wired in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from litestar import Litestar
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

import service
from service.api.alerts import AlertController
from service.api.auth import Authenticator, TokenBucket
from service.api.dashboard import dashboard_router
from service.api.docs import swagger_assets_router, swagger_render_plugin
from service.api.draining import DrainUnreadBody
from service.api.drift import DriftController
from service.api.health import health, ready
from service.api.labels import LabelController
from service.api.models import ModelController
from service.api.predict import predict_transaction
from service.api.predictions import PredictionController, prediction_feed
from service.api.problems import EXCEPTION_HANDLERS
from service.api.request_ids import echo_request_id_outside_routes, request_id_middleware
from service.api.stats import metrics, metrics_exposition, stats
from service.api.tracing import tracing_middleware
from service.api.transactions import TransactionController
from service.composition import build_committer, open_store
from service.config import Settings
from service.gc_tuning import freeze_long_lived_objects
from service.logs import litestar_logging_config
from service.metrics.http import request_duration_middleware
from service.metrics.latency import LatencyHistograms
from service.store.group_commit import AppendedHook
from service.tracing import configure_tracing

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

    configure_tracing(settings.observability.tracing)

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
                # Counting starts with the app, as a Prometheus counter's does.
                app.state.latency_histograms = LatencyHistograms(store.engine, settings.observability.latency_settle)
                app.state.metrics_exposition = metrics_exposition(app.state, settings)
                freeze_long_lived_objects()  # start-up is done: see service.gc_tuning
                try:
                    yield
                finally:
                    committer.close()
        finally:
            store.close()

    return Litestar(
        route_handlers=[TransactionController, LabelController, ModelController, AlertController, DriftController,
                        predict_transaction,
                        PredictionController, stats, metrics,
                        health, ready, dashboard_router(), swagger_assets_router()],
        lifespan=[store_lifespan, prediction_feed, *(extra_lifespans or [])],  # type: ignore[list-item]
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        # A client may still be sending its body when an early answer (413, 415, 401) goes out; bodies up to
        # twice the limit are read to their end first, so that it receives the answer, not a reset connection.
        middleware=[request_id_middleware, DefineMiddleware(DrainUnreadBody, limit=2 * settings.max_body_bytes),
                    *([tracing_middleware] if settings.observability.tracing else []), request_duration_middleware],
        before_send=[echo_request_id_outside_routes],
        request_max_body_size=settings.max_body_bytes,
        logging_config=litestar_logging_config(),
        openapi_config=OpenAPIConfig(
            title="fraudlog",
            version=service.__version__,
            path="/schema",
            render_plugins=[swagger_render_plugin()],
            components=Components(security_schemes={"apiKey": SecurityScheme(
                type="http", scheme="bearer", description="an API key: Authorization: Bearer <key>")}),
        ),
    )


@asynccontextmanager
async def _no_wiring(settings: Settings) -> AsyncIterator[None]:
    yield None
