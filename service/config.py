"""Settings from the environment, as the contract's configuration table says."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///./fraudlog.db"
DEFAULT_BROKER_URL = "memory://"
DEFAULT_ALERT_SINK = "jsonl://./alerts.jsonl"
DEFAULT_RETRAIN_EVERY = "300s"

MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_BATCH_ITEMS = 10_000
DEFAULT_RATE_LIMIT = 10_000.0  # per key and API process: a guard against runaway clients, not a quota


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class RetrainSchedule:
    """Either a period in seconds or a count of new transaction events."""

    seconds: float | None = None
    events: int | None = None

    @classmethod
    def parse(cls, text: str) -> RetrainSchedule:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h|events)\s*", text)
        if not match:
            raise ConfigError(
                f"FRAUDLOG_RETRAIN_EVERY={text!r}: expected a period like 300s, 15m, 1h or a count like 10000events"
            )
        amount, unit = float(match.group(1)), match.group(2)
        if unit == "events":
            return cls(events=int(amount))
        return cls(seconds=amount * {"s": 1, "m": 60, "h": 3600}[unit])


@dataclass(frozen=True)
class ApiKey:
    name: str
    role: str
    key: str


ROLES = ("ingest", "analyst", "admin")


def parse_api_keys(text: str) -> tuple[ApiKey, ...]:
    keys = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        parts = item.split(":", 2)
        if len(parts) != 3 or parts[1] not in ROLES or not parts[0] or not parts[2]:
            raise ConfigError(f"FRAUDLOG_API_KEYS: {item.split(':', 1)[0]!r} is not name:role:key with role in {ROLES}")
        keys.append(ApiKey(*parts))
    return tuple(keys)


def normalise_database_url(url: str) -> str:
    """Accept plain ``postgresql://`` and point it at psycopg 3, the only Postgres driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for an in-memory database."""
    if not is_sqlite(url):
        return None
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if path in ("", ":memory:"):
        return None
    return Path(path.split("?", 1)[0])


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    broker_url: str = DEFAULT_BROKER_URL
    secret_key: bytes = b""
    api_keys: tuple[ApiKey, ...] = ()
    alert_sink: str = DEFAULT_ALERT_SINK
    retrain_every: RetrainSchedule = field(default_factory=lambda: RetrainSchedule.parse(DEFAULT_RETRAIN_EVERY))
    max_body_bytes: int = MAX_BODY_BYTES
    max_batch_items: int = MAX_BATCH_ITEMS
    rate_limit: float = DEFAULT_RATE_LIMIT  # requests per second per API key; 0 turns the limit off
    rate_burst: float = DEFAULT_RATE_LIMIT * 2

    @property
    def auth_required(self) -> bool:
        """Keys are checked whenever some are configured; `from_env` refuses to start outside embedded mode
        without keys, so a deployment can never run open by omission."""
        return bool(self.api_keys)

    @property
    def embedded(self) -> bool:
        """SQLite with the in-process broker: one process, no servers."""
        return is_sqlite(self.database_url) and self.broker_url == "memory://"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        database_url = normalise_database_url(env.get("FRAUDLOG_DATABASE_URL", DEFAULT_DATABASE_URL))
        broker_url = env.get("FRAUDLOG_BROKER_URL", DEFAULT_BROKER_URL)
        if not broker_url.startswith(("amqp://", "amqps://", "redis://", "rediss://", "memory://")):
            raise ConfigError(f"FRAUDLOG_BROKER_URL={broker_url!r}: expected amqp://, redis:// or memory://")
        embedded = is_sqlite(database_url) and broker_url == "memory://"
        secret = env.get("FRAUDLOG_SECRET_KEY", "")
        if not secret:
            if not embedded:
                raise ConfigError("FRAUDLOG_SECRET_KEY is required outside embedded mode")
            secret = _embedded_secret(database_url)
        api_keys = parse_api_keys(env.get("FRAUDLOG_API_KEYS", ""))
        if not api_keys and not embedded:
            raise ConfigError("FRAUDLOG_API_KEYS is required outside embedded mode")
        return cls(
            database_url=database_url,
            broker_url=broker_url,
            secret_key=secret.encode(),
            api_keys=api_keys,
            alert_sink=env.get("FRAUDLOG_ALERT_SINK", DEFAULT_ALERT_SINK),
            retrain_every=RetrainSchedule.parse(env.get("FRAUDLOG_RETRAIN_EVERY", DEFAULT_RETRAIN_EVERY)),
            max_body_bytes=int(env.get("FRAUDLOG_MAX_BODY_BYTES", MAX_BODY_BYTES)),
            max_batch_items=int(env.get("FRAUDLOG_MAX_BATCH_ITEMS", MAX_BATCH_ITEMS)),
            rate_limit=float(env.get("FRAUDLOG_RATE_LIMIT", DEFAULT_RATE_LIMIT)),
            rate_burst=float(env.get("FRAUDLOG_RATE_BURST", 2 * float(env.get("FRAUDLOG_RATE_LIMIT",
                                                                                DEFAULT_RATE_LIMIT)))),
        )


def _embedded_secret(database_url: str) -> str:
    """Generate the secret once and keep it beside the SQLite file, so restarts verify old artifacts."""
    path = sqlite_path(database_url)
    if path is None:
        return secrets.token_hex(32)
    secret_file = path.with_name(path.name + ".secret")
    if secret_file.exists():
        return secret_file.read_text().strip()
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    try:
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race; use its secret
        return secret_file.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value
