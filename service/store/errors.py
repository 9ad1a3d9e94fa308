"""The store's own errors, and the one mapping from driver errors to them, so callers never catch psycopg or
sqlite3 exceptions (nor SQLAlchemy's wrappers of them)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy.exc import DBAPIError, OperationalError


class StoreError(Exception):
    """Base class for failures of the store."""


class StoreUnavailable(StoreError):
    """The database could not be reached or timed out; the caller may retry."""


class AppendOnlyViolation(StoreError):
    """Something tried to change or remove a row of an append-only table."""


class CommitInDoubt(Exception):
    """The connection was lost while work that commits on its own had sent COMMIT: it may or may not have
    happened. The work's owner decides what is safe (`EventLog._append_new` looks its ids up again)."""


@contextmanager
def driver_errors() -> Iterator[None]:
    """Run the block with driver errors mapped to the store's own, each message on one line.

    An operational error (connection lost, lock or statement timeout) is `StoreUnavailable`: retrying may
    work. The append-only triggers' refusal is `AppendOnlyViolation`. Anything else is a `StoreError`. The
    drivers' own errors are mapped the same way as SQLAlchemy's wrappers of them, because the bulk paths
    (`fraudlog.store.postgres`, `fraudlog.store.sqlite`) talk to the driver directly.
    """
    try:
        yield
    except (OperationalError, *_DRIVER_OPERATIONAL) as exc:
        raise StoreUnavailable(_one_line(exc)) from exc
    except (DBAPIError, *_DRIVER_ERRORS) as exc:
        if "append-only" in str(_original(exc)):
            raise AppendOnlyViolation(_one_line(exc)) from exc
        raise StoreError(_one_line(exc)) from exc


_DRIVER_OPERATIONAL = (psycopg.OperationalError, sqlite3.OperationalError)
_DRIVER_ERRORS = (psycopg.Error, sqlite3.Error)


def _original(exc: Exception) -> BaseException:
    return exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc


def _one_line(exc: Exception) -> str:
    return " ".join(str(_original(exc)).split())
