"""The API app under test: built from a `Settings`, driven in-process (TestClient) or served on a real port.

Tests build the app only through here, so that a change in how the app is composed (its factory, how the
doorbell and the embedded workers are wired in) is made once. `background=False` (the default) gives the
bare API: no doorbell rung after commits, no embedded workers; a test that wants the whole embedded
deployment (scoring in the API process) asks for `background=True`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from fraudlog.api.server import serve_in_thread
from fraudlog.composition import build_app as compose_app
from fraudlog.config import Settings
from fraudlog.workers.wiring import broker_wiring


def build_app(settings: Settings, *, background: bool = False) -> Litestar:
    """The app for `settings`; with `background` it also rings the doorbell and runs the embedded workers."""
    return compose_app(settings, wiring=broker_wiring if background else None)


@contextmanager
def api_client(settings: Settings, *, background: bool = False) -> Iterator[TestClient[Any]]:
    """A TestClient on the app, with its lifespan (engine, background threads) running."""
    with TestClient(build_app(settings, background=background)) as client:
        yield client


@contextmanager
def served_api(settings: Settings, *, background: bool = False) -> Iterator[str]:
    """The app under uvicorn in a thread on a free loopback port; yields its base URL."""
    with serve_in_thread(build_app(settings, background=background)) as url:
        yield url
