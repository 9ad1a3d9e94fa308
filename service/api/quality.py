"""`GET /v1/models/{version}/quality`: a version's quality over time (docs/quality.md); `.../quality/sources`:
its labels and quality per label source (docs/outcomes.md)."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter

from fraudlog.api.auth import ANALYST, API_KEY_SECURITY, require
from fraudlog.api.openapi import json_schema_pattern
from fraudlog.api.problems import AUTH_PROBLEMS, INVALID_QUERY, UNKNOWN_MODEL_VERSION, Problem, problem_responses
from fraudlog.domain.events import MAX_VERSION
from fraudlog.domain.validation import FieldError
from fraudlog.ml.quality import BUCKET_PATTERN, InvalidBucketing
from fraudlog.models.registry import ModelRegistry, UnknownVersion
from fraudlog.responses.quality import QualityReport
from fraudlog.views.quality import DEFAULT_BUCKET, DEFAULT_LIMIT, MAX_LIMIT, quality_report
from fraudlog.views.source_quality import SourceQualityReport, source_quality_report

Version = Annotated[int, PathParameter(ge=1, le=MAX_VERSION, description="a model version number")]
MAX_EVERY = 1_000_000_000


@get("/v1/models/{version:int}/quality", operation_id="getModelQuality", tags=["models"],
     summary="A version's quality over time: per event-time bucket or every N predictions, with label completeness",
     sync_to_thread=True, guards=[require(ANALYST)], security=API_KEY_SECURITY,
     responses=problem_responses(400, *AUTH_PROBLEMS, 404, 422))
def model_quality(
    registry: NamedDependency[ModelRegistry],
    version: Version,
    bucket: Annotated[str | None, QueryParameter(
        pattern=BUCKET_PATTERN, schema_extra={"pattern": json_schema_pattern(BUCKET_PATTERN)},
        description=f"width of event time per bucket: 15m, 1h, 1d, 1w (up to 366 days; default {DEFAULT_BUCKET})",
    )] = None,
    every: Annotated[int | None, QueryParameter(
        ge=1, le=MAX_EVERY, description="instead of `bucket`: a bucket every N predictions of the version")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="the newest buckets to return")
                     ] = DEFAULT_LIMIT,
) -> QualityReport:
    try:
        return quality_report(registry, version, bucket=bucket, every=every, limit=limit)
    except UnknownVersion as exc:
        raise Problem(UNKNOWN_MODEL_VERSION, str(exc)) from exc
    except InvalidBucketing as exc:
        raise Problem(INVALID_QUERY, str(exc), errors=[FieldError("every" if every is not None and bucket is None
                                                                  else "bucket", str(exc))]) from exc


@get("/v1/models/{version:int}/quality/sources", operation_id="getModelQualityBySource", tags=["models"],
     summary="A version's labels and quality per label source: counts, effective and outranked, label delay, "
             "ROC AUC and average precision on each source's verdicts",
     sync_to_thread=True, guards=[require(ANALYST)], security=API_KEY_SECURITY,
     responses=problem_responses(400, *AUTH_PROBLEMS, 404))
def model_quality_by_source(registry: NamedDependency[ModelRegistry], version: Version) -> SourceQualityReport:
    try:
        return source_quality_report(registry, version)
    except UnknownVersion as exc:
        raise Problem(UNKNOWN_MODEL_VERSION, str(exc)) from exc
