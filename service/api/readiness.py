"""What `GET /ready` checks: the database, the broker when one is configured, and the champion's artifact.

Each check answers `ok` or a one-line reason, so an operator reading the 503 sees which dependency is down
without opening a log. Every check is bounded by a short timeout: a load balancer polls this.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

from service.ml.artifact import ArtifactRejected
from service.models.registry import ModelRegistry
from service.store.engine import check_reachable
from service.store.refusals import refusals

OK = "ok"
BROKER_TIMEOUT_SECONDS = 2.0


def database_check(registry: ModelRegistry) -> str:
    try:
        check_reachable(registry.engine)
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"
    return OK


def broker_check(broker_url: str) -> str | None:
    """`ok` when the broker accepts a connection (and, for RabbitMQ, a login); None for the in-process broker,
    which has nothing to reach."""
    scheme = urlsplit(broker_url).scheme
    try:
        if scheme in ("amqp", "amqps"):
            _open_amqp(broker_url)
        elif scheme in ("redis", "rediss"):
            _ping_redis(broker_url)
        else:
            return None
    except Exception as exc:  # whatever the client library raises, the answer is the same: not reachable
        parts = urlsplit(broker_url)  # host and port only: the URL may carry a password
        return f"unreachable: {type(exc).__name__} ({scheme}://{parts.hostname}:{parts.port or 'default port'})"
    return OK


def _open_amqp(url: str) -> None:
    import pika

    parameters = pika.URLParameters(url)
    parameters.connection_attempts = 1
    parameters.socket_timeout = BROKER_TIMEOUT_SECONDS
    parameters.blocked_connection_timeout = BROKER_TIMEOUT_SECONDS
    parameters.stack_timeout = BROKER_TIMEOUT_SECONDS
    pika.BlockingConnection(parameters).close()


def _ping_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
                                  socket_timeout=BROKER_TIMEOUT_SECONDS)
    try:
        client.ping()
    finally:
        client.close()


class ChampionCheck:
    """Whether the current champion can score: its artifact verifies with this process's key, and no worker
    has recorded it as refused. A verification is kept per version (rows are immutable), so only a new
    champion costs a read of its artifact; the refusals table is read on every call."""

    def __init__(self) -> None:
        self._verdicts: dict[int, str] = {}
        self._lock = threading.Lock()

    def __call__(self, registry: ModelRegistry) -> str | None:
        """None before any version was promoted: there is nothing to serve yet, which is not a fault."""
        with registry.engine.connect() as conn:
            refused = refusals(conn)
        champion = registry.assignments(through=None).current().champion
        if champion is None:
            return None
        if champion in refused:
            return f"model version {champion} unusable: {refused[champion].detail}"
        return self._verified(registry, champion)

    def _verified(self, registry: ModelRegistry, version: int) -> str:
        with self._lock:
            if version not in self._verdicts:
                self._verdicts[version] = _verify(registry, version)
            return self._verdicts[version]


def _verify(registry: ModelRegistry, version: int) -> str:
    try:
        registry.load(version)
    except ArtifactRejected as rejected:
        return f"model version {version} unusable: {rejected}"
    return OK
