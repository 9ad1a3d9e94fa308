"""The models scoring runs: each version's artifact verified, unpickled once per process and kept.

Unpickling runs code, so an artifact is loaded only when its SHA-256 and HMAC verify (`fraudlog.ml.artifact`).
Caching is safe because version rows never change (the database refuses UPDATE); a loaded model's object
graph lives as long as the process, so it is moved out of the garbage collector's young generations.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from fraudlog.gc_tuning import freeze_long_lived_objects
from fraudlog.ml.artifact import ArtifactRejected, unpack, verify
from fraudlog.ml.specs import ModelSpec
from fraudlog.store.versions import VersionStore


@dataclass(frozen=True)
class LoadedVersion:
    """What scoring needs of a version: the verified model, its spec and its threshold."""

    version: int
    model: Any  # whatever the spec's family pickled: a River pipeline, a blend, a custom model
    spec: ModelSpec
    threshold: float


class ModelCache:
    """Loads versions from `versions`, trusting only artifacts signed with `secret_key`."""

    def __init__(self, versions: VersionStore, secret_key: bytes) -> None:
        self.versions = versions
        self.secret_key = secret_key
        self._loaded: dict[int, LoadedVersion] = {}
        self._lock = threading.Lock()

    def load(self, version: int) -> LoadedVersion:
        """The version ready to score, loaded once per process and only if its SHA-256 and HMAC verify
        (raises `ArtifactRejected`, or `UnknownVersion`)."""
        loaded = self._loaded.get(version)
        if loaded is not None:
            return loaded
        with self._lock:
            if version not in self._loaded:
                self._loaded[version] = self._load_uncached(version)
                freeze_long_lived_objects()  # the model's object graph lives as long as the process
            return self._loaded[version]

    def _load_uncached(self, version: int) -> LoadedVersion:
        stored = self.versions.artifact(version)
        model = unpack(stored.blob, stored.sha256, stored.hmac, self.secret_key, version)
        return LoadedVersion(version, model, ModelSpec.from_dict(stored.model_spec), stored.threshold)

    def verify_artifact(self, version: int) -> bool:
        """Whether the stored artifact matches its SHA-256 and HMAC (nothing is unpickled)."""
        stored = self.versions.artifact(version)
        try:
            verify(stored.blob, stored.sha256, stored.hmac, self.secret_key, version)
        except ArtifactRejected:
            return False
        return True
