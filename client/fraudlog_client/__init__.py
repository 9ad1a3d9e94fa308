"""fraudlog-client: the Python client of a running fraudlog, and the wire types it sends and decodes.

It depends on httpx and msgspec only, and imports nothing of the server (`fraudlog`); the server imports its
wire types from here, so the two never disagree on a field. Names are loaded when first used: the server,
which imports `fraudlog_client.records` and friends, never pays for httpx through this package.

    from fraudlog_client import FraudlogClient, AsyncFraudlogClient, stream
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

# name -> the module that defines it
_EXPORTS = {
    **dict.fromkeys(["AsyncFraudlogClient", "ClientError", "FraudlogClient", "Request", "Requests", "StreamIdle"],
                    "fraudlog_client.client"),
    **dict.fromkeys(["Labeller", "Row", "StreamReport", "stream"], "fraudlog_client.streaming"),
    **dict.fromkeys(["LabelBody", "LabelledTransaction", "TransactionBody", "format_time"], "fraudlog_client.bodies"),
    **dict.fromkeys(["Decision", "Evidence", "Explanation", "Lineage", "LineageSummary", "Reason", "TrainingCode",
                     "TrainingDataLineage", "Trigger"], "fraudlog_client.records"),
    **dict.fromkeys(["IngestReceipt", "OnDemandPrediction", "VersionComparison", "VersionPrediction"],
                    "fraudlog_client.schemas"),
    **dict.fromkeys(["AlertItem", "AlertsPage"], "fraudlog_client.responses.alerts"),
    **dict.fromkeys(["PredictionItem", "PredictionsPage"], "fraudlog_client.responses.feed"),
    **dict.fromkeys(["DecisionView", "LiveMetrics", "ModelDetail", "ModelSummary"], "fraudlog_client.responses.models"),
    **dict.fromkeys(["QualityBucket", "QualityReport"], "fraudlog_client.responses.quality"),
    **dict.fromkeys(["AlertReview", "ReviewQueue"], "fraudlog_client.responses.reviews"),
    "Stats": "fraudlog_client.responses.stats",
    **dict.fromkeys(["SuppressionView"], "fraudlog_client.responses.suppressions"),
    "TransactionView": "fraudlog_client.responses.transaction",
}
# sorted(_EXPORTS), written out for the linters (tests/unit/test_client_imports.py checks it).
__all__ = ["AlertItem", "AlertReview", "AlertsPage", "AsyncFraudlogClient", "ClientError", "Decision", "DecisionView",
           "Evidence", "Explanation", "FraudlogClient", "IngestReceipt", "LabelBody", "LabelledTransaction",
           "Labeller", "Lineage", "LineageSummary", "LiveMetrics", "ModelDetail", "ModelSummary",
           "OnDemandPrediction", "PredictionItem", "PredictionsPage", "QualityBucket", "QualityReport", "Reason",
           "Request", "Requests", "ReviewQueue", "Row", "Stats", "StreamIdle", "StreamReport", "SuppressionView",
           "TrainingCode", "TrainingDataLineage", "TransactionBody", "TransactionView", "Trigger",
           "VersionComparison", "VersionPrediction", "format_time", "stream"]

if TYPE_CHECKING:
    from fraudlog_client.bodies import LabelBody, LabelledTransaction, TransactionBody, format_time
    from fraudlog_client.client import (
        AsyncFraudlogClient,
        ClientError,
        FraudlogClient,
        Request,
        Requests,
        StreamIdle,
    )
    from fraudlog_client.records import (
        Decision,
        Evidence,
        Explanation,
        Lineage,
        LineageSummary,
        Reason,
        TrainingCode,
        TrainingDataLineage,
        Trigger,
    )
    from fraudlog_client.responses.alerts import AlertItem, AlertsPage
    from fraudlog_client.responses.feed import PredictionItem, PredictionsPage
    from fraudlog_client.responses.models import DecisionView, LiveMetrics, ModelDetail, ModelSummary
    from fraudlog_client.responses.quality import QualityBucket, QualityReport
    from fraudlog_client.responses.reviews import AlertReview, ReviewQueue
    from fraudlog_client.responses.stats import Stats
    from fraudlog_client.responses.suppressions import SuppressionView
    from fraudlog_client.responses.transaction import TransactionView
    from fraudlog_client.schemas import IngestReceipt, OnDemandPrediction, VersionComparison, VersionPrediction
    from fraudlog_client.streaming import Labeller, Row, StreamReport, stream


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'fraudlog_client' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
