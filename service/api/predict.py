"""`POST /v1/predict`: score a transaction on demand with the champion, a pinned version, or several."""

from __future__ import annotations

from typing import Any, cast

import anyio.to_thread
import msgspec
from litestar import Request, post
from litestar.di import NamedDependency

from fraudlog.api.auth import ANALYST, API_KEY_SECURITY, require
from fraudlog.api.bodies import read_json_body
from fraudlog.api.openapi import RawSchema, inline_schema, operation_with_body
from fraudlog.api.problems import AUTH_PROBLEMS, NO_CHAMPION, UNKNOWN_MODEL_VERSION, Problem, problem_responses
from fraudlog.api.schemas import OnDemandPrediction, VersionComparison, VersionPrediction
from fraudlog.config import Settings
from fraudlog.domain.events import PredictIn
from fraudlog.domain.records import Explanation
from fraudlog.domain.validation import FieldError, InvalidBody, decode_object
from fraudlog.models.registry import ModelRegistry
from fraudlog.responses.statuses import ModelStatus
from fraudlog.scoring.on_demand import NoChampion, UnknownVersion, compare, predict


@post("/v1/predict", operation_id="predict", tags=["models"], status_code=200,
      summary="Score a transaction on demand with one version or several; nothing is stored",
      operation_class=operation_with_body(RawSchema(raw=inline_schema(PredictIn))), guards=[require(ANALYST)],
      security=API_KEY_SECURITY,
      responses=problem_responses(400, *AUTH_PROBLEMS, 404, 409, 413, 415, 422))
async def predict_transaction(request: Request[Any, Any, Any], settings: NamedDependency[Settings],
                              registry: NamedDependency[ModelRegistry],
                              ) -> OnDemandPrediction | VersionComparison:
    body = decode_object(await read_json_body(request), PredictIn, settings.limits)
    if body.model_version is not None and body.model_versions is not None:
        raise InvalidBody([FieldError("/model_versions", "give model_version or model_versions, not both")])
    try:
        if body.model_versions is not None:
            compared = await anyio.to_thread.run_sync(compare, registry, body, body.model_versions)
            return VersionComparison(features=compared.features, predictions=[
                VersionPrediction(model_version=s.model_version, status=cast(ModelStatus, s.status), score=s.score,
                                  threshold=s.threshold, is_alert=s.is_alert,
                                  reasons=msgspec.convert(s.reasons, Explanation)) for s in compared.scores])
        result = await anyio.to_thread.run_sync(predict, registry, body)
    except UnknownVersion as exc:
        raise Problem(UNKNOWN_MODEL_VERSION, str(exc)) from exc
    except NoChampion as exc:
        raise Problem(NO_CHAMPION, str(exc)) from exc
    return OnDemandPrediction(score=result.score, is_alert=result.is_alert, threshold=result.threshold,
                              model_version=result.model_version, features=result.features,
                              reasons=msgspec.convert(result.reasons, Explanation))



