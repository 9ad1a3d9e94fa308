"""`fraudlog db upgrade|downgrade|current`: schema migrations (alembic)."""

from __future__ import annotations

import argparse
from typing import Any

from alembic.util import CommandError

from fraudlog.cli.context import refuse_missing_database
from fraudlog.cli.errors import CommandFailed
from fraudlog.cli.output import prints_to_a_pipe
from fraudlog.config import Settings
from fraudlog.store import migrate
from fraudlog.store.engine import create_engine


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("db", help="apply or inspect schema migrations")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser("upgrade", help="apply migrations up to a revision (default: head)")
    up.add_argument("revision", nargs="?", default="head", help="the revision to reach (default: head)")
    up.set_defaults(run=_upgrade)
    down = actions.add_parser("downgrade", help="revert migrations down to a revision ('base' for none)")
    down.add_argument("revision", help="the revision to go back to ('base': none)")
    down.set_defaults(run=_downgrade)
    current = actions.add_parser("current", help="print the applied revision")
    current.set_defaults(run=prints_to_a_pipe(_current))


def _engine() -> Any:
    """Migrations need only the database URL: no secret key, no API keys."""
    return create_engine(Settings.from_env().database_url)


def _upgrade(args: argparse.Namespace) -> int:
    engine = _engine()
    try:
        migrate.upgrade(engine, args.revision)
    except CommandError as exc:
        raise CommandFailed(str(exc)) from None
    print(f"database at revision {migrate.current_revision(engine)}")
    return 0


def _downgrade(args: argparse.Namespace) -> int:
    engine = _engine()
    try:
        migrate.downgrade(engine, args.revision)
    except CommandError as exc:  # alembic's own message is one line: "Can't locate revision ..."
        raise CommandFailed(str(exc)) from None
    print(f"database at revision {migrate.current_revision(engine) or 'base'}")
    return 0


def _current(args: argparse.Namespace) -> int:
    refuse_missing_database()  # reading the revision must not make an empty database
    print(migrate.current_revision(_engine()) or "base")
    return 0
