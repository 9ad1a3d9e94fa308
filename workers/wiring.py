"""What an API process plugs into the app: the broker, the doorbell, and in embedded mode the workers.

`fraudlog.api` knows nothing of Dramatiq: `build_app(settings, wiring=broker_wiring)` (the composition) hands
it this context, which the app enters at startup (after the embedded mode's migrations) and leaves at shutdown.
`served_app` is the factory `fraudlog serve` gives uvicorn, so each of its processes builds the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from litestar import Litestar

from fraudlog.composition import build_app
from fraudlog.config import Settings
from fraudlog.ingest.group_commit import AppendedHook
from fraudlog.workers.doorbell import Doorbell
from fraudlog.workers.embedded import embedded_workers
from fraudlog.workers.process import start_broker


@asynccontextmanager
async def broker_wiring(settings: Settings) -> AsyncIterator[AppendedHook]:
    """The broker bound, a doorbell that rings `score` after each commit, and with `memory://` the worker
    threads and periodic sweep of the embedded mode, for as long as the app runs."""
    start_broker(settings)
    doorbell = Doorbell(settings.doorbell_interval.total_seconds())
    try:
        async with AsyncExitStack() as stack:
            if settings.broker_url == "memory://":
                await stack.enter_async_context(embedded_workers(settings))
            yield doorbell
    finally:
        doorbell.close()


def served_app() -> Litestar:
    """The app from the environment's settings, wired to the broker: `uvicorn --factory` calls this in each
    API process. Refuses to run open outside embedded mode (`Settings.require_for_api`)."""
    settings = Settings.from_env().require_for_api()
    return build_app(settings, wiring=broker_wiring)
