"""Settings from the environment, as the contract's configuration table says.

This is the only module that reads `os.environ`: every process parses it once, into `Settings` (and
`LogSettings` for logging, which every process does before it knows what else it needs), and hands the
values down, so `Settings.from_env(env)` governs everything and tests can pass a plain mapping.
Parsing refuses malformed values; what a process kind needs beyond that it asks for with `require`.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from fraudlog.domain.alert_window import DEFAULT_COALESCE_WINDOW
from fraudlog.domain.drift_settings import DriftSettings
from fraudlog.domain.validation import Limits

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
    """Accept plain ``postgresql://`` and point it at psycopg 3, the only Postgres driver we ship; refuse
    what is neither SQLite nor Postgres in one line (not SQLAlchemy's traceback, issue 27 #13)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if not re.match(r"(sqlite(\+\w+)?|postgresql\+psycopg)://", url):
        from fraudlog.redaction import redact_url

        raise ConfigError(f"FRAUDLOG_DATABASE_URL={redact_url(url)!r}: expected sqlite:///PATH or "
                          "postgresql://USER@HOST/DATABASE")
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


def missing_sqlite_database(env: Mapping[str, str] | None = None) -> Path | None:
    """The SQLite file FRAUDLOG_DATABASE_URL (or its default) names, when it does not exist yet. Commands that
    only read refuse it: opening it would make an empty database, and a secret file beside it."""
    env = os.environ if env is None else env
    path = sqlite_path(normalise_database_url(env.get("FRAUDLOG_DATABASE_URL", DEFAULT_DATABASE_URL)))
    return path if path is not None and not path.exists() else None


DEFAULT_SWEEP_GRACE_SECONDS = 5.0
# uvicorn's own default (5 s) let a busy 2-core host's health pings time out, and uvicorn killed healthy
# API processes five times in a row; a hung process is still replaced, only later.
DEFAULT_API_HEALTHCHECK_TIMEOUT = timedelta(seconds=30)
DEFAULT_DOORBELL_INTERVAL = timedelta(milliseconds=20)
DEFAULT_QUEUE_PREFIX = "fraudlog"
DEFAULT_MAX_ATTRIBUTES = Limits.max_attributes
DEFAULT_MAX_ATTRIBUTE_NAME = Limits.max_attribute_name
# The conventional categorical attributes (docs/api.md, "Transactions"); a client that sends none of them gets
# exactly the features it got before categories existed.
DEFAULT_CARD_CATEGORIES = ("mcc", "merchant_id", "country", "channel", "device_id")

# What a process kind may demand beyond parsing: `Settings.require(SECRET_KEY, API_KEYS)`.
SECRET_KEY = "FRAUDLOG_SECRET_KEY"
API_KEYS = "FRAUDLOG_API_KEYS"


@dataclass(frozen=True)
class RelaySettings:
    """Delivery tuning, from FRAUDLOG_ALERT_* variables (durations in seconds, `1.5` or `1.5s`).

    The retry schedule (docs/hardening.md): `base_delay` doubling up to `max_delay`, jittered, until
    `retry_period` after the alert was made (or `max_attempts`, when set); then the alert is `failed`."""

    max_attempts: int | None = None
    base_delay: timedelta = timedelta(seconds=5)
    max_delay: timedelta = timedelta(hours=1)
    retry_period: timedelta = timedelta(days=3)
    visibility_timeout: timedelta = timedelta(seconds=30)
    batch_size: int = 100
    webhook_timeout: timedelta = timedelta(seconds=10)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RelaySettings:
        env = os.environ if env is None else env
        default = cls()
        settings = cls(
            max_attempts=_positive_int(env, "FRAUDLOG_ALERT_MAX_ATTEMPTS", 0) or None,
            base_delay=_duration(env, "FRAUDLOG_ALERT_BASE_DELAY", default.base_delay),
            max_delay=_duration(env, "FRAUDLOG_ALERT_MAX_DELAY", default.max_delay),
            retry_period=_duration(env, "FRAUDLOG_ALERT_RETRY_PERIOD", default.retry_period),
            visibility_timeout=_duration(env, "FRAUDLOG_ALERT_VISIBILITY_TIMEOUT",
                                         default.visibility_timeout),
            batch_size=_positive_int(env, "FRAUDLOG_ALERT_BATCH_SIZE", default.batch_size),
            webhook_timeout=_duration(env, "FRAUDLOG_ALERT_TIMEOUT", default.webhook_timeout),
        )
        if settings.webhook_timeout >= settings.visibility_timeout:
            # A send that outlives its lease lets a second relay claim and send the same alert.
            raise ConfigError("FRAUDLOG_ALERT_TIMEOUT must be shorter than FRAUDLOG_ALERT_VISIBILITY_TIMEOUT")
        if settings.base_delay > settings.max_delay:
            raise ConfigError("FRAUDLOG_ALERT_BASE_DELAY must not exceed FRAUDLOG_ALERT_MAX_DELAY")
        return settings



DEFAULT_WORKER_METRICS_HOST = "127.0.0.1"
DEFAULT_WORKER_METRICS_PORT = 9191


@dataclass(frozen=True)
class ObservabilitySettings:
    """Metrics and tracing: where a worker's Dramatiq exporter listens (loopback by default: the figures
    describe payment traffic, and a scraper on another host is a decision, not a default), where
    prometheus_client's multiprocess files go (several API processes behind one port), and whether
    OpenTelemetry tracing is on (`pip install 'fraudlog[tracing]'`)."""

    worker_metrics_host: str = DEFAULT_WORKER_METRICS_HOST
    worker_metrics_port: int = DEFAULT_WORKER_METRICS_PORT
    prometheus_multiproc_dir: str | None = None
    tracing: bool = False
    # How long a prediction may take from stamping `scored_at` to committing (fraudlog.metrics.latency).
    latency_settle: timedelta = timedelta(seconds=10)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ObservabilitySettings:
        env = os.environ if env is None else env
        port = env.get("FRAUDLOG_WORKER_METRICS_PORT", "").strip()
        if port and not (port.isdigit() and int(port) < 65536):
            raise ConfigError(f"FRAUDLOG_WORKER_METRICS_PORT={port!r}: expected a TCP port (1-65535), or 0 for none")
        tracing = env.get("FRAUDLOG_TRACING", "").strip().lower()
        if tracing not in ("", "0", "1", "false", "true", "off", "on"):
            raise ConfigError(f"FRAUDLOG_TRACING={tracing!r}: expected on or off")
        return cls(worker_metrics_host=env.get("FRAUDLOG_WORKER_METRICS_HOST", "").strip()
                   or DEFAULT_WORKER_METRICS_HOST,
                   worker_metrics_port=int(port) if port else DEFAULT_WORKER_METRICS_PORT,
                   # prometheus_client's own variable: it reads it too, when a metric is created.
                   prometheus_multiproc_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
                   tracing=tracing in ("1", "true", "on"),
                   latency_settle=_duration(env, "FRAUDLOG_METRICS_LATENCY_SETTLE", cls.latency_settle))


@dataclass(frozen=True)
class FeedSettings:
    """The prediction feed (FRAUDLOG_STREAM_* variables; durations in seconds)."""

    tick: timedelta = timedelta(seconds=0.02)  # how often each API process asks how far the log is final
    buffer: int = 10_000  # predictions a stream may fall behind before it is cut off
    heartbeat: timedelta = timedelta(seconds=15)  # an SSE comment this often keeps proxies from closing it
    streams_per_key: int = 8  # concurrent streams one API key may hold on one API process

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FeedSettings:
        default = cls()
        return cls(tick=_duration(env, "FRAUDLOG_STREAM_TICK", default.tick),
                   buffer=_positive_int(env, "FRAUDLOG_STREAM_BUFFER", default.buffer),
                   heartbeat=_duration(env, "FRAUDLOG_STREAM_HEARTBEAT", default.heartbeat),
                   streams_per_key=_positive_int(env, "FRAUDLOG_STREAMS_PER_KEY", default.streams_per_key))


@dataclass(frozen=True)
class ClientSettings:
    """What the commands that talk HTTP to a running fraudlog (`simulate`, `tail`) read from the
    environment: FRAUDLOG_API_KEY and FRAUDLOG_URL, used when `--api-key` and `--url` are not given."""

    api_key: str | None = field(default=None, repr=False)
    url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ClientSettings:
        env = os.environ if env is None else env
        return cls(api_key=env.get("FRAUDLOG_API_KEY", "").strip() or None,
                   url=env.get("FRAUDLOG_URL", "").strip() or None)


@dataclass(frozen=True)
class LogSettings:
    """How a process logs: FRAUDLOG_LOG_LEVEL, FRAUDLOG_LOG_FORMAT, NO_COLOR / TERM=dumb, and the literal
    secrets the formatters scrub. Separate from `Settings` because every process logs, including those that
    never open the database: building it has no side effects (no embedded secret file is created)."""

    level: str = ""  # empty: INFO
    format: str = ""  # "json", "text", or empty: JSON unless stderr is a terminal
    colour_allowed: bool = True
    secrets: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LogSettings:
        env = os.environ if env is None else env
        secrets = [env.get(name, "") for name in ("FRAUDLOG_SECRET_KEY", "FRAUDLOG_WEBHOOK_SECRET", "FRAUDLOG_API_KEY")]
        for entry in env.get("FRAUDLOG_API_KEYS", "").split(","):
            parts = entry.strip().split(":", 2)
            if len(parts) == 3:
                secrets.append(parts[2])
        return cls(level=env.get("FRAUDLOG_LOG_LEVEL", ""),
                    format=env.get("FRAUDLOG_LOG_FORMAT", "").strip().lower(),
                    colour_allowed="NO_COLOR" not in env and env.get("TERM", "") != "dumb",
                    secrets=tuple(s for s in secrets if s))


@dataclass(frozen=True)
class Settings:
    """Everything a fraudlog process is configured with, parsed once from the environment.

    `from_env` parses every variable that is set and refuses malformed values, but demands nothing: what a
    process kind needs beyond that (the secret key, API keys) it asks for with `require`, so
    `fraudlog db upgrade` runs with only a database URL while `fraudlog serve` still refuses to run open.
    """

    database_url: str = DEFAULT_DATABASE_URL
    broker_url: str = DEFAULT_BROKER_URL
    secret_key: bytes = field(default=b"", repr=False)
    api_keys: tuple[ApiKey, ...] = ()
    alert_sink: str = DEFAULT_ALERT_SINK
    retrain_every: RetrainSchedule = field(default_factory=lambda: RetrainSchedule.parse(DEFAULT_RETRAIN_EVERY))
    max_body_bytes: int = MAX_BODY_BYTES
    max_batch_items: int = MAX_BATCH_ITEMS
    rate_limit: float = DEFAULT_RATE_LIMIT  # requests per second per API key; 0 turns the limit off
    rate_burst: float = DEFAULT_RATE_LIMIT * 2
    max_attributes: int = DEFAULT_MAX_ATTRIBUTES  # per transaction
    max_attribute_name: int = DEFAULT_MAX_ATTRIBUTE_NAME  # characters per attribute name
    sweep_grace: timedelta = timedelta(seconds=DEFAULT_SWEEP_GRACE_SECONDS)  # before the sweeper re-rings
    # The API's doorbell rings `score` at most once per this interval (fraudlog.workers.doorbell says why 20 ms).
    doorbell_interval: timedelta = DEFAULT_DOORBELL_INTERVAL
    # One customer alert per card per this much event time; zero: one alert per transaction (invariant 22).
    alert_coalesce_window: timedelta = DEFAULT_COALESCE_WINDOW
    queue_prefix: str = DEFAULT_QUEUE_PREFIX  # deployments sharing a broker keep apart by queue name
    relay: RelaySettings = field(default_factory=RelaySettings)
    api_healthcheck_timeout: timedelta = DEFAULT_API_HEALTHCHECK_TIMEOUT  # `serve --workers N`: uvicorn's ping
    feed: FeedSettings = field(default_factory=FeedSettings)
    webhook_secret: bytes = field(default=b"", repr=False)  # FRAUDLOG_WEBHOOK_SECRET; empty: derived
    git_commit: str | None = None  # FRAUDLOG_GIT_COMMIT, recorded in lineage when the checkout cannot say
    secret_key_generated: bool = False  # embedded mode: the key was made once and kept beside the SQLite file
    # The promotion policy (fraudlog.lifecycle.promotion): evidence a challenger needs before it is promoted.
    promotion_min_frauds: int = 30
    promotion_confidence: float = 0.95
    max_challengers: int = 3
    # Score with versions trained under other river/numpy/scipy minor versions (fraudlog.ml.environment).
    allow_environment_drift: bool = False
    observability: ObservabilitySettings = field(default_factory=lambda: ObservabilitySettings())
    # FRAUDLOG_CARD_CATEGORIES: the attributes a newly chosen spec computes per-card categorical features of.
    # A version records them in its spec, so retraining, scoring and replay never read this again.
    card_categories: tuple[str, ...] = DEFAULT_CARD_CATEGORIES
    drift: DriftSettings = field(default_factory=DriftSettings)  # FRAUDLOG_DRIFT_* (fraudlog.monitoring)

    @property
    def auth_required(self) -> bool:
        """Keys are checked whenever some are configured; `require(API_KEYS)` refuses to start outside embedded
        mode without keys, so a deployment can never run open by omission."""
        return bool(self.api_keys)

    @property
    def embedded(self) -> bool:
        """SQLite with the in-process broker: one process, no servers."""
        return is_sqlite(self.database_url) and self.broker_url == "memory://"

    @property
    def limits(self) -> Limits:
        """What a posted transaction may carry, for `fraudlog.domain.validation`."""
        return Limits(self.max_attributes, self.max_attribute_name)

    def require(self, *needs: str) -> Settings:
        """Refuse to go on without what this process kind needs (`SECRET_KEY`, `API_KEYS`); returns self.

        The embedded mode needs neither: its secret is generated beside the SQLite file and it runs open.
        """
        if SECRET_KEY in needs and not self.secret_key:
            raise ConfigError("FRAUDLOG_SECRET_KEY is required outside embedded mode")
        if API_KEYS in needs and not self.api_keys and not self.embedded:
            raise ConfigError("FRAUDLOG_API_KEYS is required outside embedded mode")
        return self

    def require_for_api(self) -> Settings:
        """What `fraudlog serve` needs: a secret key, and keys unless embedded (never open by omission)."""
        return self.require(SECRET_KEY, API_KEYS)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Parse every variable that is set; raise `ConfigError` naming the first malformed one."""
        env = os.environ if env is None else env
        database_url = normalise_database_url(env.get("FRAUDLOG_DATABASE_URL", DEFAULT_DATABASE_URL))
        broker_url = env.get("FRAUDLOG_BROKER_URL", DEFAULT_BROKER_URL)
        if not broker_url.startswith(("amqp://", "amqps://", "redis://", "rediss://", "memory://")):
            raise ConfigError(f"FRAUDLOG_BROKER_URL={broker_url!r}: expected amqp://, redis:// or memory://")
        secret = env.get("FRAUDLOG_SECRET_KEY", "")
        generated = not secret and is_sqlite(database_url) and broker_url == "memory://"
        if generated:
            secret = _embedded_secret(database_url)
        rate_limit = env.get("FRAUDLOG_RATE_LIMIT", DEFAULT_RATE_LIMIT)
        return cls(
            database_url=database_url,
            broker_url=broker_url,
            secret_key=secret.encode(),
            api_keys=parse_api_keys(env.get("FRAUDLOG_API_KEYS", "")),
            alert_sink=env.get("FRAUDLOG_ALERT_SINK", DEFAULT_ALERT_SINK),
            retrain_every=RetrainSchedule.parse(env.get("FRAUDLOG_RETRAIN_EVERY", DEFAULT_RETRAIN_EVERY)),
            max_body_bytes=int(env.get("FRAUDLOG_MAX_BODY_BYTES", MAX_BODY_BYTES)),
            max_batch_items=int(env.get("FRAUDLOG_MAX_BATCH_ITEMS", MAX_BATCH_ITEMS)),
            rate_limit=float(rate_limit),
            rate_burst=float(env.get("FRAUDLOG_RATE_BURST", 2 * float(rate_limit))),
            max_attributes=int(env.get("FRAUDLOG_MAX_ATTRIBUTES", DEFAULT_MAX_ATTRIBUTES)),
            max_attribute_name=int(env.get("FRAUDLOG_MAX_ATTRIBUTE_NAME", DEFAULT_MAX_ATTRIBUTE_NAME)),
            sweep_grace=timedelta(seconds=float(env.get("FRAUDLOG_SWEEP_GRACE", DEFAULT_SWEEP_GRACE_SECONDS))),
            doorbell_interval=_duration(env, "FRAUDLOG_DOORBELL_INTERVAL", DEFAULT_DOORBELL_INTERVAL),
            alert_coalesce_window=_window(env, "FRAUDLOG_ALERT_COALESCE_WINDOW", DEFAULT_COALESCE_WINDOW),
            queue_prefix=env.get("FRAUDLOG_QUEUE_PREFIX", DEFAULT_QUEUE_PREFIX),
            promotion_min_frauds=_positive_int(env, "FRAUDLOG_PROMOTION_MIN_FRAUDS", 30),
            promotion_confidence=_probability(env, "FRAUDLOG_PROMOTION_CONFIDENCE", 0.95),
            max_challengers=_positive_int(env, "FRAUDLOG_MAX_CHALLENGERS", 3),
            allow_environment_drift=_flag(env, "FRAUDLOG_ALLOW_ENVIRONMENT_DRIFT"),
            relay=RelaySettings.from_env(env),
            api_healthcheck_timeout=_duration(env, "FRAUDLOG_API_HEALTHCHECK_TIMEOUT",
                                              DEFAULT_API_HEALTHCHECK_TIMEOUT),
            observability=ObservabilitySettings.from_env(env),
            feed=FeedSettings.from_env(env),
            webhook_secret=env.get("FRAUDLOG_WEBHOOK_SECRET", "").encode(),
            git_commit=env.get("FRAUDLOG_GIT_COMMIT") or None,
            secret_key_generated=generated,
            drift=_drift_settings(env),
            card_categories=_category_names(env, "FRAUDLOG_CARD_CATEGORIES", DEFAULT_CARD_CATEGORIES),
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


def _category_names(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """Comma-separated attribute names; set but empty means none."""
    text = env.get(name)
    if text is None:
        return default
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    # Quotes and backslashes are refused too: a name becomes a quoted key of a JSON path in the history query.
    bad = [n for n in names if len(n) > DEFAULT_MAX_ATTRIBUTE_NAME or not n.isprintable() or '"' in n or "\\" in n]
    if bad:
        raise ConfigError(f"{name}={text!r}: {bad[0]!r} is not a category name (printable, no quote or backslash, "
                          f"at most {DEFAULT_MAX_ATTRIBUTE_NAME} characters)")
    return names


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{name}={text!r}: expected a whole number >= 1")
    return int(text)


def _window(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    """Like `_duration`, but zero is allowed (it turns the window off)."""
    if env.get(name, "").strip() in ("0", "0s", "0.0"):
        return timedelta(0)
    return _duration(env, name, default)


def _duration(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        seconds = float(text.removesuffix("s"))
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise ConfigError(f"{name}={text!r}: expected a positive number of seconds, e.g. 1.5 or 1.5s")
    return timedelta(seconds=seconds)


def _flag(env: Mapping[str, str], name: str) -> bool:
    text = env.get(name, "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name}={text!r}: expected 1 or 0 (true/false, yes/no, on/off)")


def _probability(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r}: expected a number between 0 and 1") from None
    if not 0.5 <= value < 1.0:
        raise ConfigError(f"{name}={text!r}: expected a confidence in [0.5, 1)")
    return value


def _drift_settings(env: Mapping[str, str]) -> DriftSettings:
    try:
        return DriftSettings.from_env(env)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
