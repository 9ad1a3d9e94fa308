"""Small trained model versions for tests, and synthetic transaction bodies to score."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from service.bootstrap import train_first_version
from service.ml.datasets import synthetic_stream
from service.ml.specs import spec_for
from service.store.registry import ModelRegistry

SECRET = b"test-secret"
START = datetime(2026, 11, 1, tzinfo=UTC)


def synthetic_rows(n: int, *, seed: int = 7, cards: int = 40) -> list[tuple[dict[str, Any], bool]]:
    return list(synthetic_stream(n, seed=seed, start=START, cards=cards))


def install_version(engine: Engine, *, model: str = "hst", rows: int = 400, seed: int = 3, promote: bool = True,
                    alert_rate: float = 0.05, **params: Any) -> int:
    """Train a version on a small synthetic stream and register it (promoted to champion by default)."""
    registry = ModelRegistry(engine, SECRET)
    result = train_first_version(registry, synthetic_rows(rows, seed=seed), spec_for(model, **params),
                                 source="test", target_alert_rate=alert_rate, promote=promote)
    return result.version
