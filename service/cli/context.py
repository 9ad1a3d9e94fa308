"""What most commands need: settings, an engine (migrated in embedded mode) and the registry."""

from __future__ import annotations

from service.cli.errors import CommandFailed
from service.composition import StoreServices
from service.composition import open_store as open_store_for
from service.config import SECRET_KEY, Settings, missing_sqlite_database


def open_store(settings: Settings | None = None) -> StoreServices:
    """The store for a command, from the environment unless `settings` are given. The secret key is required:
    the registry verifies (and training signs) model artifacts with it."""
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
