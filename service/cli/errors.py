"""Errors a command raises to fail with a one-line message (exit code 1), and the others shown that way."""

from __future__ import annotations

import sys


class CommandFailed(Exception):
    """A command could not do its job; the message is shown to the user as one line."""


# Besides `CommandFailed`: the errors a command reports in one line, named rather than imported, so the CLI
# does not import the store, the models or the scheduler to start (a class whose module was never imported
# cannot have been raised).
ONE_LINE_ERRORS = (
    "fraudlog.config:ConfigError",
    "fraudlog.store.errors:StoreError",
    "fraudlog.workers.scheduler:SchedulerAlreadyRunning",
    "fraudlog.ml.artifact:ArtifactRejected",
)
DATABASE_ERROR = "sqlalchemy.exc:DBAPIError"  # the database is down or refused: one line, not a traceback


def one_line_failure(exc: BaseException) -> str | None:
    """The one line a command fails with on `exc`, or None for an error that deserves its traceback."""
    if isinstance(exc, (CommandFailed, ValueError, OSError, LookupError, *_loaded(ONE_LINE_ERRORS))):
        return str(exc)
    if isinstance(exc, _loaded((DATABASE_ERROR,))):
        return f"database error: {str(exc.orig).splitlines()[0]}"  # type: ignore[attr-defined]
    return None


def _loaded(names: tuple[str, ...]) -> tuple[type[BaseException], ...]:
    classes = []
    for name in names:
        module, _, attribute = name.partition(":")
        if module in sys.modules:
            classes.append(getattr(sys.modules[module], attribute))
    return tuple(classes)
