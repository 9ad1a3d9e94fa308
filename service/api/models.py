"""`/v1/models`: versions, their lineage, and promotion or retirement (appended to the log)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import PathParameter

from fraudlog.api.auth import ADMIN, ANALYST, API_KEY_SECURITY, require
from fraudlog.api.problems import ARTIFACT_REJECTED, AUTH_PROBLEMS, UNKNOWN_MODEL_VERSION, Problem, problem_responses
from fraudlog.api.schemas import RoleChanged
from fraudlog.domain.events import MAX_VERSION
from fraudlog.domain.records import Decision
from fraudlog.lifecycle.roles import assign_role
from fraudlog.ml.artifact import ArtifactRejected
from fraudlog.models.registry import ModelRegistry, UnknownVersion
from fraudlog.responses.models import ModelDetail, ModelSummary
from fraudlog.responses.statuses import RoleChange
from fraudlog.views.models import model_detail, model_summaries

Version = Annotated[int, PathParameter(ge=1, le=MAX_VERSION, description="a model version number")]


class ModelController(Controller):
    path = "/v1/models"
    tags = ["models"]
    security = API_KEY_SECURITY

    @get("/", operation_id="listModels", summary="Every version with its status, parent and metrics",
         sync_to_thread=True, guards=[require(ANALYST)], responses=problem_responses(*AUTH_PROBLEMS))
    def list_models(self, registry: NamedDependency[ModelRegistry]) -> list[ModelSummary]:
        return model_summaries(registry)

    @get("/{version:int}", operation_id="getModel", summary="A version's full lineage", sync_to_thread=True,
         guards=[require(ANALYST)],
         responses=problem_responses(400, *AUTH_PROBLEMS, 404))
    def get_model(self, registry: NamedDependency[ModelRegistry], version: Version) -> ModelDetail:
        try:
            return model_detail(registry, version)
        except UnknownVersion as exc:
            raise Problem(UNKNOWN_MODEL_VERSION, str(exc)) from exc

    @post("/{version:int}/promote", operation_id="promoteModel", summary="Make a version the champion",
          status_code=200, sync_to_thread=True, guards=[require(ADMIN)], security=API_KEY_SECURITY,
          responses=problem_responses(400, *AUTH_PROBLEMS, 404, 409))
    def promote(self, registry: NamedDependency[ModelRegistry], version: Version) -> RoleChanged:
        return _set_role(registry, version, "champion")

    @post("/{version:int}/retire", operation_id="retireModel", summary="Retire a version", status_code=200,
          sync_to_thread=True, guards=[require(ADMIN)], security=API_KEY_SECURITY,
          responses=problem_responses(400, *AUTH_PROBLEMS, 404, 409))
    def retire(self, registry: NamedDependency[ModelRegistry], version: Version) -> RoleChanged:
        return _set_role(registry, version, "retired")


def _set_role(registry: ModelRegistry, version: int, role: RoleChange) -> RoleChanged:
    try:
        action = "promote" if role == "champion" else "retire"
        position = assign_role(registry, version, role, Decision(
            kind="manual", action=action, reason=f"{action}d by an operator (POST /v1/models/{version}/{action})"))
    except UnknownVersion as exc:
        raise Problem(UNKNOWN_MODEL_VERSION, str(exc)) from exc
    except ArtifactRejected as exc:
        raise Problem(ARTIFACT_REJECTED, str(exc)) from exc
    return RoleChanged(version=version, status=role, position=position)
