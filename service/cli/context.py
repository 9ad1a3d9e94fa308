"""What most commands need: settings, an engine (migrated in embedded mode) and the registry."""

from __future__ import annotations

from service.composition import StoreServices
from service.composition import open_store as open_store_for
from service.config import SECRET_KEY, Settings


def open_store(settings: Settings | None = None) -> StoreServices:
    """The store for a command, from the environment unless `settings` are given. The secret key is required:
    the registry verifies (and training signs) model artifacts with it."""
    return open_store_for((settings or Settings.from_env()).require(SECRET_KEY))
