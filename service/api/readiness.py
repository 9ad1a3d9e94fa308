"""What `GET /ready` checks: the database, the broker when one is configured, and the champion's artifact.

Each check answers `ok` or a one-line reason, so an operator reading the 503 sees which dependency is down
without opening a log. Every check is bounded by a short timeout: a load balancer polls this.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

from fraudlog.ml.artifact import ArtifactRejected
from fraudlog.models.registry import ModelRegistry
from fraudlog.store.engine import check_reachable
from fraudlog.store.refusals import record_refusal, refusals

OK = "ok"
BROKER_TIMEOUT_SECONDS = 2.0
# How long a champion that verified is trusted before its artifact is read and checked again: an artifact
# changed behind fraudlog's back is noticed within this, at one artifact read per minute per API process.
VERDICT_TTL = timedelta(seconds=60)


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
    """Whether the current champion can score: its artifact verifies with this process's key, and no process
    has recorded it as refused. The refusals table is read on every call; a verification that passed is kept
    for `VERDICT_TTL`, one that failed for good, and a failure is recorded as a refusal, so every API process
    answers alike: before, one that had verified the champion before it was tampered with kept answering 200
    while others answered 503, and `/ready` flapped behind a load balancer (issue 27 #7)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._verdicts: dict[int, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

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
            verdict, at = self._verdicts.get(version, ("", 0.0))
            if not verdict or (verdict == OK and self._clock() - at > VERDICT_TTL.total_seconds()):
                verdict = _verify(registry, version, again=bool(verdict))
                self._verdicts[version] = (verdict, self._clock())
            return verdict


def _verify(registry: ModelRegistry, version: int, *, again: bool) -> str:
    """Load the version the first time (what `/v1/predict` will serve), then check the stored artifact's
    digest and HMAC afresh (the loaded model is cached for the process's life)."""
    try:
        if not again:
            registry.load(version)
        elif not registry.verify_artifact(version):
            raise ArtifactRejected(version, "HMAC", "the stored artifact changed since it was first verified")
    except ArtifactRejected as rejected:
        record_refusal(registry.engine, rejected)
        return f"model version {version} unusable: {rejected}"
    return OK
