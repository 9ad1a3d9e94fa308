"""The model registry: immutable version rows, and roles given by promotion events in the log."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from service.domain.assignment import CHAMPION, RETIRED, AssignmentTable, RoleChange
from service.domain.events import EVENT_PROMOTION, EVENT_RETIREMENT, NewEvent, digest
from service.gc_tuning import freeze_long_lived_objects
from service.ml.artifact import ArtifactRejected, unpack, verify
from service.ml.specs import ModelSpec
from service.store.event_log import EventLog
from service.store.roles import role_changes_through_newest
from service.store.tables import model_versions


class UnknownVersion(LookupError):
    def __init__(self, version: int) -> None:
        super().__init__(f"model version {version} does not exist")
        self.version = version


@dataclass(frozen=True)
class VersionRecord:
    """A model version row (the artifact bytes stay in the database unless loaded)."""

    version: int
    parent_version: int | None
    created_at: datetime
    model_spec: dict[str, Any]
    training_code: dict[str, Any]
    training_data: dict[str, Any]
    environment: dict[str, Any]
    artifact_sha256: str
    artifact_hmac: str
    artifact_size: int
    threshold: float
    metrics: dict[str, Any]
    watermark: int
    trigger: dict[str, Any] | None = None  # why it was trained (service.lifecycle.triggers); None before 0006


@dataclass(frozen=True)
class LoadedVersion:
    """What scoring needs of a version: the verified model, its spec and its threshold."""

    version: int
    model: Any
    spec: ModelSpec
    threshold: float


_SUMMARY_COLUMNS = [c for c in model_versions.c if c.name != "artifact"]
_insert_version = sa.insert(model_versions)


def version_rows(conn: Connection) -> list[dict[str, Any]]:
    """Every version row, artifact included, in version order (so each parent comes before its children)."""
    return [dict(row) for row in conn.execute(sa.select(model_versions).order_by(model_versions.c.version)).mappings()]


def insert_version_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert version rows as given, version numbers included: `fraudlog rebuild` copies them this way."""
    if rows:
        conn.execute(_insert_version, list(rows))


class ModelRegistry:
    def __init__(self, engine: Engine, secret_key: bytes) -> None:
        self.engine = engine
        self.secret_key = secret_key
        self._loaded: dict[int, LoadedVersion] = {}
        self._lock = threading.Lock()
        self._assignments = AssignmentTable()

    # -- versions -------------------------------------------------------------------------------------

    def next_version(self) -> int:
        with self.engine.connect() as conn:
            latest = conn.execute(sa.select(sa.func.coalesce(sa.func.max(model_versions.c.version), 0))).scalar_one()
        return int(latest) + 1

    def add_version(self, row: dict[str, Any]) -> int:
        """Insert an immutable version row; the version number is taken as the next free one if absent."""
        for _ in range(5):
            values = {"created_at": datetime.now(UTC), **row}
            values.setdefault("version", self.next_version())
            try:
                with self.engine.begin() as conn:
                    conn.execute(_insert_version, values)
                return int(values["version"])
            except IntegrityError:
                if "version" in row:
                    raise
        raise RuntimeError("could not allocate a model version number")

    def get(self, version: int) -> VersionRecord:
        stmt = sa.select(*_SUMMARY_COLUMNS, sa.func.length(model_versions.c.artifact).label("artifact_size")).where(
            model_versions.c.version == version)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).mappings().first()
        if row is None:
            raise UnknownVersion(version)
        return VersionRecord(**dict(row))

    def list(self) -> list[VersionRecord]:
        stmt = sa.select(*_SUMMARY_COLUMNS, sa.func.length(model_versions.c.artifact).label("artifact_size")).order_by(
            model_versions.c.version)
        with self.engine.connect() as conn:
            return [VersionRecord(**dict(row)) for row in conn.execute(stmt).mappings()]

    def row(self, version: int) -> dict[str, Any]:
        """The whole version row as stored, artifact bytes included (what retraining starts from)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(model_versions).where(model_versions.c.version == version)).mappings().first()
        if row is None:
            raise UnknownVersion(version)
        return dict(row)

    def load(self, version: int) -> LoadedVersion:
        """The version ready to score, loaded once per process and only if its SHA-256 and HMAC verify.

        Caching is safe because version rows never change (the database refuses UPDATE).
        """
        loaded = self._loaded.get(version)
        if loaded is not None:
            return loaded
        with self._lock:
            if version not in self._loaded:
                self._loaded[version] = self._load_uncached(version)
                freeze_long_lived_objects()  # the model's object graph lives as long as the process
            return self._loaded[version]

    def _load_uncached(self, version: int) -> LoadedVersion:
        stmt = sa.select(model_versions.c.artifact, model_versions.c.artifact_sha256, model_versions.c.artifact_hmac,
                         model_versions.c.model_spec, model_versions.c.threshold).where(
            model_versions.c.version == version)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            raise UnknownVersion(version)
        artifact, sha256, hmac_hex, spec, threshold = row
        model = unpack(bytes(artifact), sha256, hmac_hex, self.secret_key, version)
        return LoadedVersion(version, model, ModelSpec.from_dict(spec), float(threshold))

    def verify_artifact(self, version: int) -> bool:
        """Whether the stored artifact matches its SHA-256 and HMAC (nothing is unpickled)."""
        stmt = sa.select(model_versions.c.artifact, model_versions.c.artifact_sha256,
                         model_versions.c.artifact_hmac).where(model_versions.c.version == version)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            raise UnknownVersion(version)
        try:
            verify(bytes(row[0]), row[1], row[2], self.secret_key, version)
        except ArtifactRejected:
            return False
        return True

    # -- roles ----------------------------------------------------------------------------------------

    def set_role(self, version: int, role: str, decision: dict[str, Any] | None = None) -> int:
        """Append a promotion (champion/challenger) or retirement event, with the decision that made it
        (kind, action, reason, evidence); returns its log position."""
        self.get(version)  # refuse unknown versions before writing anything
        if role == CHAMPION:
            self.load(version)  # refuse to promote an artifact that does not verify
        payload: dict[str, Any] = {"model_version": version, "role": role}
        if decision is not None:
            payload["decision"] = decision
        event_type = EVENT_RETIREMENT if role == RETIRED else EVENT_PROMOTION
        event = NewEvent(event_type, None, None, datetime.now(UTC), digest(payload), payload)
        return EventLog(self.engine).append_control(event, datetime.now(UTC))

    def assignments(self, through: int | None = None, conn: Connection | None = None) -> AssignmentTable:
        """The role table, refreshed from the log when `through` lies beyond what was read (on `conn` when
        given), in one query: the role changes up to the log's newest position, and that position."""
        table = self._assignments
        if through is not None and table.covers(through):
            return table
        with self._lock, (contextlib.nullcontext(conn) if conn is not None else self.engine.connect()) as reader:
            changes, newest = role_changes_through_newest(reader, after=table.known_through)
            table.extend(changes, known_through=newest)
        return table

    @property
    def roles_known_through(self) -> int:
        """The position up to which the role table has read the log: a reader of the role changes after it can
        bring the table up to date with `learn_roles`."""
        return self._assignments.known_through

    def learn_roles(self, changes: Sequence[RoleChange], known_through: int) -> AssignmentTable:
        """The role table with `changes`, the role changes after `roles_known_through` up to `known_through`,
        read by the caller in one snapshot (a scoring batch reads them with its events).

        Safe against other threads doing the same at once: the table skips changes it already holds and only
        moves `known_through` forward, and each reader's changes are every change up to its `known_through`.
        """
        with self._lock:
            self._assignments.extend(changes, known_through=known_through)
        return self._assignments
