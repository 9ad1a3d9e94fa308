"""The store's own errors, and the one mapping from driver errors to them, so callers never catch psycopg or
sqlite3 exceptions (nor SQLAlchemy's wrappers of them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, OperationalError


class StoreError(Exception):
    """Base class for failures of the store."""


class StoreUnavailable(StoreError):
    """The database could not be reached or timed out; the caller may retry."""


class AppendOnlyViolation(StoreError):
    """Something tried to change or remove a row of an append-only table."""


@contextmanager
def driver_errors() -> Iterator[None]:
    """Run the block with driver errors mapped to the store's own, each message on one line.

    An operational error (connection lost, lock or statement timeout) is `StoreUnavailable`: retrying may
    work. The append-only triggers' refusal is `AppendOnlyViolation`. Anything else is a `StoreError`.
    """
    try:
        yield
    except OperationalError as exc:
        raise StoreUnavailable(_one_line(exc)) from exc
    except DBAPIError as exc:
        if "append-only" in str(exc.orig):
            raise AppendOnlyViolation(_one_line(exc)) from exc
        raise StoreError(_one_line(exc)) from exc


def _one_line(exc: DBAPIError) -> str:
    return " ".join(str(exc.orig).split())
