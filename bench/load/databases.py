"""Throwaway databases for benchmarks: a fresh, migrated SQLite file or Postgres database per run.

Postgres databases are named `<prefix>_<pid>_<random>`, so a run can drop what a run that died left behind
(its pid no longer exists) without touching another live run's database.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from fraudlog.store import migrate
from fraudlog.store.engine import create_engine

# FRAUDLOG_BENCH_PG is the name older scripts read; either works.
PG_ADMIN_URL = (os.environ.get("FRAUDLOG_BENCH_PG_URL") or os.environ.get("FRAUDLOG_BENCH_PG")
                or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PG_SETTINGS_SHOWN = ("fsync", "synchronous_commit", "wal_sync_method", "full_page_writes", "shared_buffers",
                     "max_wal_size")


@dataclass
class Database:
    """A database a benchmark owns: its URL, and what server and settings the figures were measured on."""

    backend: str
    url: str
    version: str
    settings: dict[str, str] = field(default_factory=dict)
    name: str | None = None  # the Postgres database name (its backends' CPU is counted as "postgres")


def libpq_url(url: str) -> str:
    """The same database as a plain libpq URL, for psycopg.connect (COPY)."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def migrate_with_library(url: str) -> None:
    engine = create_engine(url, poolclass=sa.NullPool)
    migrate.upgrade(engine)
    engine.dispose()


def migrate_with_cli(url: str, env: dict[str, str]) -> None:
    """`fraudlog db upgrade` in a subprocess: the path an operator takes."""
    done = subprocess.run([sys.executable, "-m", "fraudlog.cli", "db", "upgrade"],
                          env={**env, "FRAUDLOG_DATABASE_URL": url}, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"fraudlog db upgrade failed:\n{done.stdout}\n{done.stderr}")


@contextlib.contextmanager
def fresh_database(backend: str, *, prefix: str = "fraudlog_bench", sqlite_dir: str | None = None,
                   cli_env: dict[str, str] | None = None, migrated: bool = True, keep: bool = False,
                   ) -> Iterator[Database]:
    """A fresh database, migrated (by the library, or by `fraudlog db upgrade` when `cli_env` is given),
    removed afterwards unless `keep` (a kept Postgres database is named `<prefix>_kept_<pid>_<random>`)."""

    def upgrade(url: str) -> None:
        if not migrated:
            return
        if cli_env is not None:
            migrate_with_cli(url, cli_env)
        else:
            migrate_with_library(url)

    if backend == "sqlite":
        directory = tempfile.mkdtemp(prefix=f"{prefix}-", dir=sqlite_dir)
        try:
            url = f"sqlite:///{directory}/bench.db"
            upgrade(url)
            yield Database(backend, url, f"SQLite {sqlite3.sqlite_version}",
                           {"journal_mode": "wal", "synchronous": "FULL", "directory": directory})
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    name = f"{prefix}_{'kept_' if keep else ''}{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with admin.connect() as conn:
            _drop_abandoned(conn, prefix)
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            version = conn.exec_driver_sql("SHOW server_version").scalar_one()
            settings = {key: conn.exec_driver_sql(f"SHOW {key}").scalar_one() for key in PG_SETTINGS_SHOWN}
        url = sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        try:
            upgrade(url)
            yield Database(backend, url, f"PostgreSQL {version}", settings, name)
        finally:
            if keep:
                print(f"kept the database {name}", file=sys.stderr)
            else:
                _drop(admin, name)
    finally:
        admin.dispose()


def _drop_abandoned(conn: sa.Connection, prefix: str) -> None:
    pattern = prefix.replace("_", "\\_") + "\\_%"
    names = conn.execute(sa.text("SELECT datname FROM pg_database WHERE datname LIKE :pattern"),
                         {"pattern": pattern}).scalars().all()
    for stale in names:
        pid = stale[len(prefix) + 1 :].split("_", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():  # left by a run that died
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)')


def _drop(admin: sa.Engine, name: str, attempts: int = 5) -> None:
    for attempt in range(attempts):
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except sa.exc.OperationalError as exc:
            if attempt == attempts - 1:
                print(f"could not drop {name} ({exc.orig}); the next run drops it", file=sys.stderr)
            time.sleep(1)


def settle(engine: sa.Engine) -> float:
    """Let the database finish the background work the previous phase caused, so it does not land on the next.

    Postgres: VACUUM (ANALYZE) the log (what autovacuum would start after a bulk insert) and CHECKPOINT.
    SQLite: checkpoint and truncate the WAL. Not timed in any figure; returns its own duration.
    """
    began = time.perf_counter()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) events")
            conn.exec_driver_sql("CHECKPOINT")
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - began
