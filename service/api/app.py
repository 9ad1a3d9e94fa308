"""The app factory: routes, dependencies, OpenAPI and error handling wired in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
from litestar import Litestar
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

import fraudlog
from fraudlog.api.alerts import AlertController, list_reviews
from fraudlog.api.dashboard import dashboard_router
from fraudlog.api.dependencies import DEPENDENCIES, ApiServices
from fraudlog.api.docs import swagger_assets_router, swagger_render_plugin
from fraudlog.api.draining import DrainUnreadBody
from fraudlog.api.drift import DriftController
from fraudlog.api.health import health, ready
from fraudlog.api.labels import LabelController
from fraudlog.api.models import ModelController
from fraudlog.api.openapi import alert_webhook
from fraudlog.api.predict import predict_transaction
from fraudlog.api.predictions import PredictionController
from fraudlog.api.problems import EXCEPTION_HANDLERS
from fraudlog.api.quality import model_quality, model_quality_by_source
from fraudlog.api.request_ids import echo_request_id_outside_routes, request_id_middleware
from fraudlog.api.request_metrics import request_duration_middleware
from fraudlog.api.stats import metrics, stats, stats_series_handler
from fraudlog.api.suppressions import SuppressionController
from fraudlog.api.tracing import tracing_middleware
from fraudlog.api.transactions import TransactionController
from fraudlog.config import Settings
from fraudlog.gc_tuning import freeze_long_lived_objects
from fraudlog.logs import litestar_logging_config
from fraudlog.tracing import configure_tracing

ServicesOpener = Callable[[], AbstractAsyncContextManager[ApiServices]]


def create_app(settings: Settings, services: ServicesOpener,
               extra_lifespans: list[Callable[[Litestar], object]] | None = None) -> Litestar:
    """Build the API for `settings`.

    `services` opens what the handlers are given, for as long as the app runs: the composition's
    `api_services` (`fraudlog.composition.build_app` passes it), entered at startup and left at shutdown.
    Handlers receive its parts through dependency injection (`fraudlog.api.dependencies`).
    """

    configure_tracing(settings.observability.tracing)

    @asynccontextmanager
    async def services_lifespan(app: Litestar) -> AsyncIterator[None]:
        async with services() as bundle:
            app.state.services = bundle
            freeze_long_lived_objects()  # start-up is done: see fraudlog.gc_tuning
            # The process's one shared feed reader, for as long as the app runs.
            async with anyio.create_task_group() as group:
                group.start_soon(bundle.prediction_hub.run)
                try:
                    yield
                finally:
                    group.cancel_scope.cancel()

    return Litestar(
        route_handlers=[TransactionController, LabelController, ModelController, AlertController, DriftController,
                        SuppressionController, list_reviews,
                        predict_transaction,
                        PredictionController, stats, stats_series_handler, metrics, model_quality,
                        model_quality_by_source,
                        health, ready, dashboard_router(), swagger_assets_router()],
        lifespan=[services_lifespan, *(extra_lifespans or [])],  # type: ignore[list-item]
        dependencies=DEPENDENCIES,
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
            version=fraudlog.__version__,
            path="/schema",
            render_plugins=[swagger_render_plugin()],
            components=Components(security_schemes={"apiKey": SecurityScheme(
                type="http", scheme="bearer", description="an API key: Authorization: Bearer <key>")}),
            webhooks={"alert": alert_webhook()},
        ),
    )

