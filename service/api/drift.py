"""`/v1/drift`: the drift detections recorded in the log, newest first (docs/drift.md)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlalchemy.engine import Engine

from fraudlog.api.auth import ANALYST, API_KEY_SECURITY, require
from fraudlog.api.problems import AUTH_PROBLEMS, problem_responses
from fraudlog.domain.events import MAX_VERSION
from fraudlog.views.drift import DriftPage, drift_page

MAX_PAGE = 1_000


class DriftController(Controller):
    path = "/v1/drift"
    tags = ["models"]
    guards = [require(ANALYST)]
    security = API_KEY_SECURITY

    @get("/", operation_id="listDriftDetections", summary="Drift detections, newest first", sync_to_thread=True,
         responses=problem_responses(400, *AUTH_PROBLEMS))
    def list_detections(
        self,
        engine: NamedDependency[Engine],
        model_version: Annotated[int | None, QueryParameter(ge=1, le=MAX_VERSION)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 100,
    ) -> DriftPage:
        return drift_page(engine, limit=limit, model_version=model_version)
