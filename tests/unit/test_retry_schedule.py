"""The alert retry schedule: capped exponential backoff with per-alert jitter, over days (issue 27 #4)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

from fraudlog.alerts.schedule import RetrySchedule
from fraudlog.config import RelaySettings

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def attempt_times(schedule: RetrySchedule, alert_id: str) -> list[datetime]:
    """When each attempt of an alert that always fails happens, made at T0 and first tried at once."""
    times, now = [T0], T0
    while (now := schedule.next_attempt(alert_id, len(times), T0, now)) is not None:  # type: ignore[assignment]
        times.append(now)
    return times


def test_the_default_schedule_retries_for_days_before_an_alert_is_failed() -> None:
    schedule = RetrySchedule.of(RelaySettings())
    for alert_id in (str(uuid.uuid4()) for _ in range(20)):
        times = attempt_times(schedule, alert_id)
        last = times[-1] - T0
        # Given up only when the next attempt would be after three days: the last one is within its final wait.
        assert timedelta(days=3) - schedule.max_delay <= last <= timedelta(days=3)
        assert all(b - a <= schedule.max_delay for a, b in itertools.pairwise(times))
        # A two-minute outage (issue 27 #4) or a ten-minute one costs a handful of attempts, not the alert.
        assert sum(t - T0 <= timedelta(minutes=10) for t in times) <= 9


def test_each_delay_is_between_half_and_all_of_the_capped_exponential() -> None:
    schedule = RetrySchedule(base_delay=timedelta(seconds=1), max_delay=timedelta(seconds=300))
    for attempts, envelope in [(1, 1), (2, 2), (3, 4), (9, 256), (10, 300), (10_000, 300)]:
        delays = [schedule.delay(str(uuid.uuid4()), attempts).total_seconds() for _ in range(500)]
        assert all(envelope / 2 <= d <= envelope for d in delays)
        # Alerts that failed together come back spread over the window, not all at once.
        assert min(delays) < envelope * 0.55 and max(delays) > envelope * 0.95


def test_an_alerts_schedule_is_the_same_on_every_relay() -> None:
    first, again = RetrySchedule(), RetrySchedule()
    assert [first.delay("alert-1", n) for n in range(1, 30)] == [again.delay("alert-1", n) for n in range(1, 30)]
    assert first.delay("alert-1", 5) != first.delay("alert-2", 5)


def test_max_attempts_when_set_also_ends_the_retries() -> None:
    assert len(attempt_times(RetrySchedule(max_attempts=4), "alert-1")) == 4
