"""The model table names what tells versions apart (issue 32)."""

from __future__ import annotations

import msgspec

from fraudlog.ml.specs import spec_for
from fraudlog.views.version_traits import version_traits


def spec(name: str, categories: tuple[str, ...] = ()) -> dict:
    built = spec_for(name)
    return msgspec.to_builtins(built.with_categories(categories) if categories else built)


def test_two_versions_of_one_family_that_differ_in_categories_read_differently() -> None:
    with_merchant = version_traits(spec("hst", ("merchant",)), {"kind": "schedule"})
    without = version_traits(spec("hst"), {"kind": "schedule"})
    assert with_merchant != without
    assert "categories merchant" in with_merchant and "no categories" in without


def test_the_traits_name_the_family_the_excluded_features_and_the_trigger() -> None:
    traits = version_traits(spec("logreg"), {"kind": "drift", "detection": "1a2b3c4d5e6f"})
    assert traits.startswith("logreg · features * minus hour_of_day")
    assert traits.endswith("trigger drift 1a2b3c4d")


def test_a_version_written_before_specs_named_features_reads_every_feature() -> None:
    assert version_traits({"name": "hst"}, None) == "hst · features * · no categories"
