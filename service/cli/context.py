"""What most commands need: settings, an engine (migrated in embedded mode) and the registry.

The composition and the store are imported when a command opens them, not when its module is imported: the
composition brings the API (Litestar) and the registry brings the models (River, SciPy), seconds that
`fraudlog <command> --help` and the commands reading only tables (`open_engine`) should not pay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fraudlog.cli.errors import CommandFailed
from fraudlog.config import SECRET_KEY, Settings, missing_sqlite_database

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from fraudlog.composition import StoreServices


def open_store(settings: Settings | None = None) -> StoreServices:
    """The store for a command, from the environment unless `settings` are given. The secret key is required:
    the registry verifies (and training signs) model artifacts with it."""
    from fraudlog.composition import open_store as open_store_for

    return open_store_for((settings or Settings.from_env()).require(SECRET_KEY))


def open_store_to_read() -> StoreServices:
    """The store for a command that only reads: a SQLite database that does not exist yet is a one-line failure,
    not a new empty file (and a new secret beside it) behind an empty answer."""
    refuse_missing_database()
    return open_store()


def refuse_missing_database() -> None:
    missing = missing_sqlite_database()
    if missing is not None:
        raise CommandFailed(f"no database at {missing}: set FRAUDLOG_DATABASE_URL (`fraudlog demo` or "
                            "`fraudlog train` make one)")


def open_engine(settings: Settings | None = None) -> Engine:
    """The engine alone, for a command that reads the store's tables and no model: as `open_store` makes it
    (migrated first in embedded mode, the secret key required), without the registry or the composition."""
    from fraudlog.store import migrate
    from fraudlog.store.engine import create_engine

    settings = (settings or Settings.from_env()).require(SECRET_KEY)
    engine = create_engine(settings.database_url)
    if settings.embedded:
        migrate.upgrade(engine)
    return engine


def open_engine_to_read() -> Engine:
    """`open_engine` for a command that only reads: a SQLite database that does not exist yet is a one-line
    failure, not a new empty file."""
    refuse_missing_database()
    return open_engine()
