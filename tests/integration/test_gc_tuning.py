"""What lives as long as a serving process is frozen out of full garbage collections (`fraudlog.gc_tuning`).

A full pass over an unfrozen API or worker took 90-230 ms on the benchmark machine, five or six times in ten
seconds of load: the p99 event-to-prediction latency. Each test unfreezes first, so it proves its own call.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import dramatiq
import pytest
from sqlalchemy.engine import Engine

from fraudlog.api.dependencies import services_of
from fraudlog.config import Settings
from fraudlog.models.registry import ModelRegistry
from fraudlog.workers.process import start_broker
from fraudlog.workers.tasks import FreezeAfterBoot
from tests.support.api import api_client
from tests.support.models import SECRET, install_version


@pytest.fixture(autouse=True)
def nothing_frozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def _tracked(obj: object) -> bool:
    """Whether a full collection would walk `obj` (frozen objects are in no generation)."""
    return any(candidate is obj for generation in range(3) for candidate in gc.get_objects(generation))


def test_a_loaded_model_version_is_frozen(engine: Engine) -> None:
    version = install_version(engine, model="hst")
    loaded = ModelRegistry(engine, SECRET).load(version)
    assert gc.get_freeze_count() > 0
    assert not _tracked(loaded.model)


def test_the_api_freezes_what_it_holds_once_started(database_url: str) -> None:
    with api_client(Settings(database_url=database_url, secret_key=b"k")) as client:
        assert client.get("/health").status_code == 200
        assert not _tracked(services_of(client.app).registry)


def test_a_worker_freezes_what_it_holds_once_booted(sqlite_url: str) -> None:
    broker = start_broker(Settings(database_url=sqlite_url, secret_key=b"k", broker_url="memory://"))
    assert any(isinstance(m, FreezeAfterBoot) for m in broker.middleware)
    held = ["made before the worker booted"]  # a list: always tracked (a dict of strings is not)
    assert _tracked(held)
    worker = dramatiq.Worker(broker, worker_timeout=100)
    worker.start()
    try:
        assert not _tracked(held)
    finally:
        worker.stop()
