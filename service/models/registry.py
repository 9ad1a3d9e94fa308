"""What the readers of model versions hold for one database: its version store, its model cache and its
role table, built once per process (`fraudlog.composition`).

Three jobs, three objects (`registry.versions`, `registry.models`, `registry.roles`); the methods here only
pass the common questions on, so that scoring, replay and the views ask one object. Registering a version
is `registry.versions.add`, and giving it a role is the lifecycle's use case (`fraudlog.lifecycle.roles`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection, Engine

from fraudlog.domain.assignment import AssignmentTable, RoleChange
from fraudlog.domain.records import VersionRecord
from fraudlog.models.cache import LoadedVersion, ModelCache
from fraudlog.store.role_table import RoleTable
from fraudlog.store.versions import UnknownVersion, VersionStore

__all__ = ["ModelRegistry", "UnknownVersion"]


class ModelRegistry:
    def __init__(self, engine: Engine, secret_key: bytes) -> None:
        self.versions = VersionStore(engine)
        self.models = ModelCache(self.versions, secret_key)
        self.roles = RoleTable(engine)

    @property
    def engine(self) -> Engine:
        return self.versions.engine

    @property
    def secret_key(self) -> bytes:
        return self.models.secret_key

    def get(self, version: int) -> VersionRecord:
        return self.versions.get(version)

    def list(self) -> list[VersionRecord]:
        return self.versions.list()

    def load(self, version: int) -> LoadedVersion:
        return self.models.load(version)

    def verify_artifact(self, version: int) -> bool:
        return self.models.verify_artifact(version)

    def assignments(self, through: int | None = None, conn: Connection | None = None) -> AssignmentTable:
        return self.roles.assignments(through, conn)

    @property
    def roles_known_through(self) -> int:
        return self.roles.known_through

    def learn_roles(self, changes: Sequence[RoleChange], known_through: int) -> AssignmentTable:
        return self.roles.learn(changes, known_through)
