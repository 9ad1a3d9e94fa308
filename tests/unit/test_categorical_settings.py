"""FRAUDLOG_CARD_CATEGORIES: the categories a newly chosen spec computes per-card features of."""

from __future__ import annotations

import pytest

from fraudlog.config import DEFAULT_CARD_CATEGORIES, ConfigError, Settings


def test_the_conventional_names_by_default_and_none_when_set_empty() -> None:
    assert Settings.from_env({}).card_categories == DEFAULT_CARD_CATEGORIES
    assert Settings.from_env({"FRAUDLOG_CARD_CATEGORIES": ""}).card_categories == ()
    assert Settings.from_env({"FRAUDLOG_CARD_CATEGORIES": " country, device_id ,country"}).card_categories == (
        "country", "device_id")


@pytest.mark.parametrize("text", ["country,dev\tice", "x" * 65, 'say"what', "back\\slash"])
def test_a_name_no_attribute_can_have_is_refused_naming_the_variable(text: str) -> None:
    with pytest.raises(ConfigError, match="FRAUDLOG_CARD_CATEGORIES"):
        Settings.from_env({"FRAUDLOG_CARD_CATEGORIES": text})
