"""Model artifacts: a cloudpickled model, its SHA-256 and an HMAC-SHA256 made with the deployment's secret.

Unpickling runs code, so an artifact is trusted only when both check out (invariant 7, docs/INVARIANTS.md), and both are
checked before a single byte is unpickled. The SHA-256 catches corruption and is the artifact's public
identity in lineage; the HMAC proves that someone holding the secret key wrote it, which a SHA-256 alone
cannot, since anyone able to change the blob can recompute its digest.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import io
import pickle
from dataclasses import dataclass
from typing import Any

import cloudpickle

# Fixed rather than cloudpickle's default, so that a library upgrade cannot change the bytes (and so the
# SHA-256) of an otherwise identical model.
PICKLE_PROTOCOL = 5


class ArtifactRejected(Exception):
    """A model version's artifact failed its integrity or authenticity check and was not loaded."""

    def __init__(self, version: int, check: str, detail: str) -> None:
        super().__init__(f"model version {version}: artifact {check} check failed ({detail}); not loading it")
        self.version = version
        self.check = check  # "SHA-256" or "HMAC"


@dataclass(frozen=True, slots=True)
class PackedArtifact:
    blob: bytes
    sha256: str  # hex
    hmac: str  # hex, HMAC-SHA256 of the blob keyed with the secret

    @property
    def size(self) -> int:
        return len(self.blob)


def pack(model: Any, secret: bytes) -> PackedArtifact:
    """Serialise and sign a model. The same model state always gives the same bytes."""
    _require_secret(secret)
    blob = cloudpickle.dumps(model, protocol=PICKLE_PROTOCOL)
    return PackedArtifact(blob=blob, sha256=hashlib.sha256(blob).hexdigest(), hmac=sign(blob, secret))


def unpack(blob: bytes, sha256: str, hmac_hex: str, secret: bytes, version: int) -> Any:
    """Load a model version's artifact, after checking its SHA-256 and then its HMAC.

    Raises ArtifactRejected, naming the version and the failed check, instead of unpickling anything
    unverified.
    """
    verify(blob, sha256, hmac_hex, secret, version)
    return _Unpickler(io.BytesIO(blob)).load()


class _Unpickler(pickle.Unpickler):
    """Loads the artifacts pickled before the package was renamed: until 0.2 fraudlog's code was imported as
    `service` (now `fraudlog`), so a stored version names its classes `service.ml.encoders.TextAndNumbers`,
    `service.ml.blend.RankBlend`. Such a name is read as its `fraudlog` one when that module exists; any other
    name (a custom factory's own package, even one called `service`) is looked up as it is."""

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(current_module_name(module), name)


def current_module_name(module: str) -> str:
    """`service.X` -> `fraudlog.X` when `fraudlog.X` exists; every other module name unchanged."""
    top, dot, rest = module.partition(".")
    if top != "service":
        return module
    renamed = "fraudlog" + dot + rest
    try:
        found = importlib.util.find_spec(renamed) is not None
    except ImportError:  # a parent package of the new name does not exist
        found = False
    return renamed if found else module


def verify(blob: bytes, sha256: str, hmac_hex: str, secret: bytes, version: int) -> None:
    """Raise ArtifactRejected unless both the SHA-256 and the HMAC of `blob` match."""
    _require_secret(secret)
    actual = hashlib.sha256(blob).hexdigest()
    if not _same(actual, sha256):
        raise ArtifactRejected(version, "SHA-256", f"expected {sha256}, the blob hashes to {actual}")
    if not _same(sign(blob, secret), hmac_hex):
        raise ArtifactRejected(version, "HMAC", "the artifact was not signed with this secret key")


def sign(blob: bytes, secret: bytes) -> str:
    return hmac.new(secret, blob, hashlib.sha256).hexdigest()


def _same(expected_hex: str, given_hex: str) -> bool:
    # Constant time; compared as bytes because compare_digest refuses non-ASCII str, and a corrupted
    # column must be rejected like any other mismatch, not raise TypeError.
    return hmac.compare_digest(expected_hex.encode(), given_hex.strip().lower().encode("utf-8", "replace"))


def _require_secret(secret: bytes) -> None:
    # An empty key makes an HMAC anyone can forge: refuse it rather than sign or trust with it.
    if not secret:
        raise ValueError("the secret key used to sign model artifacts must not be empty")
