"""The real services tests talk to (Postgres, RabbitMQ, Redis): where they listen, and what to do when one is down.

The URLs come from the environment so that CI and a laptop can point the suite elsewhere; the defaults are
the loopback services of `docker compose up`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from collections.abc import Iterator, Mapping

import pytest
import sqlalchemy as sa

from fraudlog.store.engine import create_engine

PG_ADMIN_URL = os.environ.get("FRAUDLOG_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
RABBITMQ_URL = os.environ.get("FRAUDLOG_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("FRAUDLOG_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def queue_prefix(environ: Mapping[str, str]) -> str:
    """The queue names of this test process: the run's prefix (set by whoever started the run, else a fresh
    one), plus the pytest-xdist worker's id when there is one. Test runs share the machine's broker, and
    xdist workers inherit the prefix their controller chose: without the id, tests running at the same time
    in two workers would consume each other's messages."""
    run = environ.get("FRAUDLOG_QUEUE_PREFIX") or f"fraudlog-test-{uuid.uuid4().hex[:8]}"
    worker = environ.get("PYTEST_XDIST_WORKER")
    return f"{run}-{worker}" if worker else run


def require_service(name: str, host: str, port: int) -> None:
    """Fail under CI, skip elsewhere, when a real service the test needs is not listening."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        message = f"{name} at {host}:{port} is unreachable ({exc})"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must start it (see .ci/run)", pytrace=False)
        pytest.skip(message + "; start it (docker compose up) to run this test")


def require_postgres() -> None:
    url = sa.make_url(PG_ADMIN_URL)
    require_service("PostgreSQL", url.host or "127.0.0.1", url.port or 5432)


def pg_database_url(database: str) -> str:
    """The URL of another database on the test Postgres server, with the admin URL's credentials."""
    return sa.make_url(PG_ADMIN_URL).set(database=database).render_as_string(hide_password=False)


@contextlib.contextmanager
def throwaway_pg_database(name: str, *, template: str | None = None, drop_attempts: int = 1) -> Iterator[str]:
    """A new Postgres database (a copy of `template` when given), dropped on the way out; yields its URL.

    A database of the same name left by a run that died is dropped first.

    `drop_attempts` > 1 retries the drop once a second, for runs that restart Postgres under themselves.
    """
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield pg_database_url(name)
    finally:
        for attempt in range(drop_attempts):
            try:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                break
            except sa.exc.OperationalError:
                if attempt == drop_attempts - 1:
                    raise
                time.sleep(1)
        admin.dispose()
