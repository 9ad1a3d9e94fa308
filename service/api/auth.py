"""API keys with roles, stored and compared as HMACs, and a per-key rate limit.

A key never lives in memory longer than it takes to hash it: at start-up every configured key becomes
HMAC-SHA256(secret key, key), and each request's bearer token is hashed the same way and compared in
constant time with every known hash. `fraudlog keys create` prints a new key once, together with the
hashed entry to put in FRAUDLOG_API_KEYS, so the plaintext need not be configured anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from fraudlog.api.problems import AUTHENTICATION_REQUIRED, FORBIDDEN, INVALID_API_KEY, RATE_LIMITED, Problem
from fraudlog.config import ApiKey

INGEST, ANALYST, ADMIN = "ingest", "analyst", "admin"
HASH_PREFIX = "hash:"
# Admin may do everything; analysts read; ingest clients write events and nothing else.
GRANTS = {INGEST: {INGEST}, ANALYST: {ANALYST}, ADMIN: {INGEST, ANALYST, ADMIN}}


# The OpenAPI security requirement of every guarded route (the scheme is declared in the app factory).
API_KEY_SECURITY: list[dict[str, list[str]]] = [{"apiKey": []}]


def hash_key(secret_key: bytes, key: str) -> str:
    return hmac.new(secret_key, key.encode(), hashlib.sha256).hexdigest()


def new_key() -> str:
    return "fl_" + secrets.token_urlsafe(30)


def configured_entry(name: str, role: str, secret_key: bytes, key: str) -> str:
    """The FRAUDLOG_API_KEYS entry for a key, holding its hash rather than the key."""
    return f"{name}:{role}:{HASH_PREFIX}{hash_key(secret_key, key)}"


@dataclass(frozen=True)
class Principal:
    name: str
    role: str


class TokenBucket:
    """`rate` requests per second with bursts of `burst`, per key name, in this process."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, name: str, now: float | None = None) -> float:
        """0.0 when allowed; otherwise the seconds until a request would be."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._state.get(name, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._state[name] = (tokens - 1.0, now)
                return 0.0
            self._state[name] = (tokens, now)
            return (1.0 - tokens) / self.rate


class Authenticator:
    def __init__(self, keys: Iterable[ApiKey], secret_key: bytes, *, required: bool,
                 limiter: TokenBucket | None = None) -> None:
        self._hashes = [(_stored_hash(k, secret_key), Principal(k.name, k.role)) for k in keys]
        self._secret_key = secret_key
        self.required = required
        self._limiter = limiter

    def authenticate(self, authorization: str | None) -> Principal | None:
        if not self.required:
            return None
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(AUTHENTICATION_REQUIRED, "send Authorization: Bearer <API key>",
                          headers={"WWW-Authenticate": "Bearer"})
        presented = hash_key(self._secret_key, token.strip())
        found = None
        for stored, principal in self._hashes:  # compare with every key: the time does not depend on which
            if hmac.compare_digest(stored, presented):
                found = principal
        if found is None:
            raise Problem(INVALID_API_KEY, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return found

    def throttle(self, principal: Principal | None) -> None:
        if principal is None or self._limiter is None:
            return
        wait = self._limiter.take(principal.name)
        if wait > 0:
            detail = f"the rate limit for key {principal.name!r} is {self._limiter.rate:g} requests per second"
            raise Problem(RATE_LIMITED, detail, headers={"Retry-After": str(max(1, round(wait)))})


def _stored_hash(key: ApiKey, secret_key: bytes) -> str:
    return key.key[len(HASH_PREFIX):] if key.key.startswith(HASH_PREFIX) else hash_key(secret_key, key.key)


def roles_granting(permission: str) -> str:
    """The roles whose keys may do what `permission` guards, as a 403 names them: "'analyst' or 'admin'"."""
    return " or ".join(repr(role) for role, granted in GRANTS.items() if permission in granted)


def require(role: str) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]:
    """A Litestar guard: 401 without a valid key, 403 when its role does not grant `role`, 429 over the limit."""

    # async: Litestar runs a sync guard in a thread pool, ~50 us of CPU per request for nothing.
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        authenticator: Authenticator = connection.app.state.services.authenticator  # see fraudlog.api.dependencies
        principal = authenticator.authenticate(connection.headers.get("authorization"))
        if principal is not None and role not in GRANTS[principal.role]:
            raise Problem(FORBIDDEN, f"key {principal.name!r} has role {principal.role!r}; "
                          f"this needs {roles_granting(role)}")
        authenticator.throttle(principal)

    return guard
