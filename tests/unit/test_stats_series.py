"""`GET /v1/stats/series` reads its range and step strictly (issue 32)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fraudlog.views.series import parse_duration


def test_durations_read_with_their_unit() -> None:
    assert parse_duration("10s") == timedelta(seconds=10)
    assert parse_duration("1.5m") == timedelta(seconds=90)
    assert parse_duration("1h") == timedelta(hours=1)
    assert parse_duration("2d") == timedelta(days=2)


@pytest.mark.parametrize("text", ["", "10", "0s", "-1h", "1w", "1e3s", "9" * 30 + "d"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
