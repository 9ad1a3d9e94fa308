"""Logging for every fraudlog process: the API, the workers, the relay and the scheduler.

On a terminal a person reads the lines; anywhere else (a container, systemd, a file, a pipe) a machine
does, so the default is JSON lines there: one object per record with `ts`, `level`, `logger`, `message`,
`process`, `thread` and every `extra={...}` field (`transaction_id`, `model_version`, ...).

Secrets never leave a process through its logs: values of sensitive-looking fields (`authorization`,
`api_key`, `secret`, `password`, `token`, ...) are replaced, bearer tokens and URL passwords in any text are
masked, and the literal values of the configured API keys and secret keys are scrubbed wherever they appear
(in messages, extras and tracebacks alike).

Environment: FRAUDLOG_LOG_LEVEL (default INFO; `INFO,fraudlog.scoring=DEBUG` sets some loggers apart, e.g. to
see one line per prediction) and FRAUDLOG_LOG_FORMAT (`json` or `text`; default: text on a terminal, JSON
otherwise) apply when `configure_logging` is called without explicit arguments; `fraudlog.config.LogSettings`
reads them (it, not this module, is the reader of the environment).

Request ids: while the API answers a request, `request_id_scope` holds its id in a context variable and
`RequestIdFilter` (installed on the handler) puts it on every record as `request_id`, whichever logger
wrote it and whichever thread the handler ran on (Litestar runs sync handlers with the context copied).
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from fraudlog.config import LogSettings

REDACTED = "[redacted]"

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime",
                                                                                           "taskName"}
_SENSITIVE_KEY = re.compile(r"authori[sz]ation|api[_-]?keys?|secret|passw(or)?d|token|cookie|credential",
                            re.IGNORECASE)
_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    (re.compile(r"(?i)\b(authori[sz]ation|api[_-]?keys?|secret[_-]?key|secret|passw(?:or)?d|token)"
                r"(\s*[=:]\s*|\"\s*:\s*\")([^\s\"',;&]+)"), rf"\1\2{REDACTED}"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*):[^/\s@]+@"), rf"\1:{REDACTED}@"),
)
# Libraries whose INFO lines are noise in an operator's log (one line per HTTP request, per migration step).
QUIET_LOGGERS = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "alembic": logging.WARNING,
    "uvicorn.access": logging.WARNING,
    # pika logs every failed connection attempt at ERROR, with a traceback; the doorbell already says it.
    "pika": logging.CRITICAL,
    "aiosqlite": logging.WARNING,
    # APScheduler logs two INFO lines per job run (about 90 a minute for the scheduler's jobs) and one per job
    # added; `fraudlog.scheduler` says what it schedules, and APScheduler's warnings (a missed run) still pass.
    "apscheduler": logging.WARNING,
}
_MIN_SECRET_LENGTH = 6  # shorter literals would mask ordinary words


class Redactor:
    """Masks secrets in text and in structured values."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Redactor:
        """Know the literal secrets this deployment is configured with, to scrub them wherever they appear."""
        return cls(LogSettings.from_env(env).secrets)

    def text(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern, replacement in _TEXT_PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def value(self, key: str, value: Any) -> Any:
        if _SENSITIVE_KEY.search(key) and value not in (None, ""):
            return REDACTED
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {str(k): self.value(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(key, v) for v in value]
        if isinstance(value, bytes | bytearray):
            return self.text(bytes(value).decode("utf-8", "replace"))
        return value


_request_id: ContextVar[str | None] = ContextVar("fraudlog_request_id", default=None)


@contextmanager
def request_id_scope(request_id: str) -> Iterator[None]:
    """Every record logged inside the block (in this context) carries `request_id`."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


def current_request_id() -> str | None:
    return _request_id.get()


def position_ranges(positions: Iterable[int]) -> str:
    """`[7, 3, 4, 5, 9]` -> `"3-5,7,9"`: the log positions a batch covered, short enough for one log line."""
    ordered = sorted(set(positions))
    spans: list[str] = []
    start = previous = None
    for position in [*ordered, None]:
        if position is not None and previous is not None and position == previous + 1:
            previous = position
            continue
        if start is not None:
            spans.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = position
    return ",".join(spans)


class RequestIdFilter(logging.Filter):
    """Adds the current request's id to each record (an explicit `extra={"request_id": ...}` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _request_id.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


_redactor: Redactor | None = None


def current_redactor() -> Redactor:
    """The process's redactor, built from the environment on first use (uvicorn's worker processes only apply
    `logging_config`, so the formatters must find the configured secrets by themselves)."""
    global _redactor
    if _redactor is None:
        _redactor = Redactor.from_env()
    return _redactor


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items()
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, process, thread, extras, exception."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        redactor = self.redactor or current_redactor()
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00",
                                                                                                         "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redactor.text(record.getMessage()),
            "process": record.process,
            "thread": record.threadName,
        }
        for key, value in extra_fields(record).items():
            if key not in entry:
                entry[key] = redactor.value(key, value)
        if record.exc_info:
            entry["exception"] = redactor.text(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = redactor.text(record.exc_text)
        if record.stack_info:
            entry["stack"] = redactor.text(self.formatStack(record.stack_info))
        return json.dumps(entry, default=str, ensure_ascii=False, separators=(",", ":"))


class ConsoleFormatter(logging.Formatter):
    """For a person at a terminal: `12:00:01.234 INFO  fraudlog.scoring  scored  transaction_id=... `."""

    COLORS = {"DEBUG": "\x1b[2m", "INFO": "\x1b[36m", "WARNING": "\x1b[33m", "ERROR": "\x1b[31m",
              "CRITICAL": "\x1b[1;31m"}
    RESET = "\x1b[0m"

    def __init__(self, redactor: Redactor | None = None, colour: bool = True) -> None:
        super().__init__()
        self.redactor = redactor
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        redactor = self.redactor or current_redactor()
        clock = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.") + f"{int(record.msecs):03d}"
        level = f"{record.levelname:<7}"
        if self.colour:
            level = f"{self.COLORS.get(record.levelname, '')}{level}{self.RESET}"
        extras = " ".join(f"{key}={redactor.value(key, value)}" for key, value in extra_fields(record).items())
        line = f"{clock} {level} {record.name}  {redactor.text(record.getMessage())}"
        if extras:
            line += f"  {extras}"
        if record.exc_info:
            line += "\n" + redactor.text(self.formatException(record.exc_info))
        if record.stack_info:
            line += "\n" + redactor.text(self.formatStack(record.stack_info))
        return line


def use_json_lines(stream: TextIO | None = None, env: Mapping[str, str] | None = None) -> bool:
    """JSON unless FRAUDLOG_LOG_FORMAT says otherwise or the stream is a terminal."""
    chosen = LogSettings.from_env(env).format
    if chosen in ("json", "text"):
        return chosen == "json"
    stream = sys.stderr if stream is None else stream
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):  # a closed or exotic stream
        return True


def logging_config(level: str | int | None = None, json_lines: bool | None = None) -> dict[str, Any]:
    """A `logging.config.dictConfig` dictionary; uvicorn takes it as `log_config` (applied in each worker)."""
    level, overrides = _levels(level)
    json_lines = use_json_lines() if json_lines is None else json_lines
    formatter: dict[str, Any] = {"()": f"{__name__}.JsonFormatter"} if json_lines else {
        "()": f"{__name__}.ConsoleFormatter", "colour": _colour_allowed()}
    loggers: dict[str, Any] = {name: {"level": logging.getLevelName(quiet)} for name, quiet in QUIET_LOGGERS.items()}
    # uvicorn installs its own handlers on these when it configures logging; ours replace them.
    for name in ("uvicorn", "uvicorn.error"):
        loggers[name] = {"level": level, "handlers": [], "propagate": True}
    loggers["uvicorn.access"] = {"level": "WARNING", "handlers": [], "propagate": True}
    for name, logger_level in overrides.items():
        loggers.setdefault(name, {})["level"] = logger_level
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"fraudlog": formatter},
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "fraudlog", "filters": ["request_id"],
                                "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": loggers,
    }


def configure_logging(level: str | int | None = None, json_lines: bool | None = None) -> None:
    """Set up the root logger for this process (idempotent; the latest call wins).

    `level` (`INFO`, or `INFO,fraudlog.scoring=DEBUG` to set some loggers apart) defaults to
    FRAUDLOG_LOG_LEVEL, else INFO; `json_lines` to FRAUDLOG_LOG_FORMAT, else "stderr is not a terminal".
    """
    global _redactor
    _redactor = Redactor.from_env()  # the environment may have changed since the first use
    logging.config.dictConfig(logging_config(level, json_lines))
    logging.captureWarnings(True)


def litestar_logging_config() -> Any:
    """For `Litestar(logging_config=...)`: Litestar's own default would replace the root logger's handlers
    with its plain-text format; this one leaves the root alone and sends the `litestar` logger through it,
    so through our formatter and redaction. Unexpected errors are logged by the API's own exception
    handler (`fraudlog.api`), so Litestar does not log them a second time."""
    from litestar.logging.config import LoggingConfig

    return LoggingConfig(configure_root_logger=False, log_exceptions="never",
                         loggers={"litestar": {"level": "INFO", "handlers": [], "propagate": True}})


def _levels(level: str | int | None) -> tuple[str, dict[str, str]]:
    """`INFO` or `INFO,fraudlog.scoring=DEBUG,dramatiq=WARNING`: the root level, then per-logger levels."""
    if level is None:
        level = LogSettings.from_env().level or "INFO"
    if isinstance(level, int):
        return logging.getLevelName(level), {}
    root, overrides = "INFO", {}
    for part in filter(None, (p.strip() for p in level.split(","))):
        name, _, value = part.rpartition("=")
        if name:
            overrides[name.strip()] = _level_name(value)
        else:
            root = _level_name(value)
    return root, overrides


def _level_name(text: str) -> str:
    name = text.strip().upper()
    if not isinstance(logging.getLevelName(name), int):
        raise ValueError(f"unknown log level {text!r}: expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return name


def _colour_allowed() -> bool:
    if not LogSettings.from_env().colour_allowed:
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
