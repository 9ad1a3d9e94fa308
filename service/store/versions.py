"""The version store: immutable model-version rows, numbered as they are added.

A version row is written once and never changed (the database refuses UPDATE), so anything read from it may
be cached for the life of a process. Loading a version's model for scoring is not this module's job
(`fraudlog.models.cache`), nor is giving it a role (`fraudlog.lifecycle.roles`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from fraudlog.domain.records import NewVersion, VersionRecord
from fraudlog.store.tables import model_versions

NUMBERING_ATTEMPTS = 5  # concurrent registrations may take the same next number; the loser retries


class UnknownVersion(LookupError):
    def __init__(self, version: int) -> None:
        super().__init__(f"model version {version} does not exist")
        self.version = version


@dataclass(frozen=True, slots=True)
class StoredArtifact:
    """A version's artifact as stored, with what checks it (nothing is unpickled here)."""

    version: int
    blob: bytes
    sha256: str
    hmac: str
    model_spec: dict[str, Any]  # open: a spec names its own parameters
    threshold: float


_SUMMARY_COLUMNS = [c for c in model_versions.c if c.name != "artifact"]
_SUMMARY = sa.select(*_SUMMARY_COLUMNS, sa.func.length(model_versions.c.artifact).label("artifact_size"))
_ARTIFACT = sa.select(model_versions.c.artifact, model_versions.c.artifact_sha256, model_versions.c.artifact_hmac,
                      model_versions.c.model_spec, model_versions.c.threshold)
_insert_version = sa.insert(model_versions)


def version_rows(conn: Connection) -> list[dict[str, Any]]:
    """Every version row, artifact included, in version order (so each parent comes before its children)."""
    return [dict(row) for row in conn.execute(sa.select(model_versions).order_by(model_versions.c.version)).mappings()]


def insert_version_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert version rows as given, version numbers included: `fraudlog rebuild` copies them this way."""
    if rows:
        conn.execute(_insert_version, list(rows))


def stored_row(new: NewVersion) -> dict[str, Any]:
    """The columns of a new version's row; the lineage's JSON keeps the order its dictionaries always had."""
    lineage = new.lineage
    return {"parent_version": new.parent_version, "model_spec": lineage.model_spec,
            "training_code": msgspec.to_builtins(lineage.training_code),
            "training_data": msgspec.to_builtins(lineage.training_data), "environment": lineage.environment,
            "artifact": new.artifact, "artifact_sha256": new.artifact_sha256, "artifact_hmac": new.artifact_hmac,
            "threshold": new.threshold, "metrics": new.metrics, "watermark": new.watermark,
            "trigger": new.trigger}


def _record(row: object) -> VersionRecord:
    # The row's attributes by name: its mapping's keys are SQLAlchemy's `quoted_name`, which msgspec refuses.
    return msgspec.convert(row, VersionRecord, from_attributes=True)


class VersionStore:
    """Adds, numbers and reads the version rows of one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def next_version(self) -> int:
        with self.engine.connect() as conn:
            latest = conn.execute(sa.select(sa.func.coalesce(sa.func.max(model_versions.c.version), 0))).scalar_one()
        return int(latest) + 1

    def add(self, new: NewVersion, version: int | None = None) -> int:
        """Insert `new` as an immutable row; its number is `version`, or the next free one when not given."""
        row = stored_row(new)
        for _ in range(NUMBERING_ATTEMPTS):
            values = {"created_at": datetime.now(UTC), **row, "version": version or self.next_version()}
            try:
                with self.engine.begin() as conn:
                    conn.execute(_insert_version, values)
                return int(values["version"])
            except IntegrityError:
                if version is not None:
                    raise
        raise RuntimeError("could not allocate a model version number")

    def get(self, version: int) -> VersionRecord:
        """The version's record (raises `UnknownVersion`)."""
        with self.engine.connect() as conn:
            row = conn.execute(_SUMMARY.where(model_versions.c.version == version)).first()
        if row is None:
            raise UnknownVersion(version)
        return _record(row)

    def list(self) -> list[VersionRecord]:
        """Every version's record, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(_SUMMARY.order_by(model_versions.c.version)).all()
        return [_record(row) for row in rows]

    def artifact(self, version: int) -> StoredArtifact:
        """The version's artifact bytes and what verifies them (raises `UnknownVersion`)."""
        with self.engine.connect() as conn:
            row = conn.execute(_ARTIFACT.where(model_versions.c.version == version)).first()
        if row is None:
            raise UnknownVersion(version)
        blob, sha256, hmac_hex, spec, threshold = row
        return StoredArtifact(version, bytes(blob), sha256, hmac_hex, spec, float(threshold))
