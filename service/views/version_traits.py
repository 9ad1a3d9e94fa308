"""What tells one model version from another, in one line: family, features, categories, trigger.

The model tables (`fraudlog models`, the dashboard) showed the spec's name alone, so two versions that differ
(one without the card's categorical features) read the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def version_traits(model_spec: Mapping[str, Any], trigger: Mapping[str, Any] | None) -> str:
    """E.g. `hst · features * minus hour_of_day, hour_sin · categories merchant · trigger drift 1a2b3c4d`."""
    parts = [str(model_spec.get("name", "?"))]
    selection = model_spec.get("features") or {}
    include = list(selection.get("include") or ["*"])
    exclude = list(selection.get("exclude") or [])
    features = "features " + ", ".join(include)
    if exclude:
        features += " minus " + ", ".join(exclude)
    parts.append(features)
    categories = list(model_spec.get("categories") or [])
    parts.append("categories " + ", ".join(categories) if categories else "no categories")
    if trigger:
        detection = trigger.get("detection")
        parts.append(f"trigger {trigger.get('kind', '?')}" + (f" {str(detection)[:8]}" if detection else ""))
    return " · ".join(parts)
