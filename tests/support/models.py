"""Small trained model versions for tests, and synthetic transaction bodies to score."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.domain.assignment import CHALLENGER, CHAMPION
from fraudlog.domain.records import Decision
from fraudlog.lifecycle.first_version import train_first_version
from fraudlog.lifecycle.roles import assign_role
from fraudlog.lifecycle.versions import train_version
from fraudlog.ml.datasets import synthetic_stream
from fraudlog.ml.specs import spec_for
from fraudlog.models.registry import ModelRegistry
from fraudlog.store.event_log import EventLog
from fraudlog.store.tables import model_versions

SECRET = b"test-secret"
START = datetime(2026, 11, 1, tzinfo=UTC)
# Versions are trained on history imported under this prefix, so tests can stream the same rows live.
HISTORY = "hist:"


def synthetic_rows(n: int, *, seed: int = 7, cards: int = 40) -> list[tuple[dict[str, Any], bool]]:
    return list(synthetic_stream(n, seed=seed, start=START, cards=cards))


def install_version(engine: Engine, *, model: str = "hst", rows: int = 400, seed: int = 3, promote: bool = True,
                    alert_rate: float = 0.05, **params: Any) -> int:
    """Import a small synthetic stream as history, train a version on it and register it (promoted to
    champion by default). Small windows keep it fast.

    Once a champion serves, the log takes no more history (`ImportRefused`): a later version is then trained
    on the log as it stands (`rows` and `seed` are not used), as a retrain would be.
    """
    registry = ModelRegistry(engine, SECRET)
    spec = spec_for(model, **params) if params or model == "blend" else spec_for(model, **_small(model))
    champion = registry.assignments().current().champion
    if champion is None:
        result = train_first_version(registry, synthetic_rows(rows, seed=seed), spec, id_prefix=f"{HISTORY}{seed}:",
                                     target_alert_rate=alert_rate, promote=promote)
        return result.version
    trained = train_version(engine, SECRET, spec, cut=EventLog(engine).last_position(), parent=champion,
                            target_alert_rate=alert_rate)
    version = registry.versions.add(trained)
    assign_role(registry, version, CHAMPION if promote else CHALLENGER,
                Decision(kind="manual", action="promote" if promote else "enter", reason="test"))
    return version


def _small(model: str) -> dict[str, Any]:
    # HST's reference window must fit the few hundred rows a test trains on.
    return {"n_trees": 10, "height": 8, "window_size": 100} if model == "hst" else {}


def tamper_artifact(engine: Engine, version: int, *, with_digest: bool = False) -> None:
    """Flip one byte of a stored artifact (and, `with_digest`, store the new bytes' SHA-256 too: what someone
    with write access to the table but without the key can do), dropping the guard trigger first as a
    superuser could. The HMAC is never touched."""
    with engine.begin() as conn:
        blob = bytearray(conn.execute(sa.select(model_versions.c.artifact)
                                      .where(model_versions.c.version == version)).scalar_one())
        blob[len(blob) // 2] ^= 0xFF
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE model_versions DISABLE TRIGGER model_versions_immutable")
        else:
            conn.exec_driver_sql("DROP TRIGGER model_versions_no_update")
        values: dict[str, Any] = {"artifact": bytes(blob)}
        if with_digest:
            values["artifact_sha256"] = hashlib.sha256(bytes(blob)).hexdigest()
        conn.execute(sa.update(model_versions).where(model_versions.c.version == version).values(**values))
