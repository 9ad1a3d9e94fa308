"""When a failed alert is tried again, and when it is given up.

Capped exponential backoff over days, like Standard Webhooks' and Stripe's schedules: a receiver may be
down for hours (a deploy gone wrong, a weekend) and still get every alert once it is back, with no one
running `fraudlog alerts retry`. An alert ends `failed` only once its next attempt would fall after
`retry_period` from its creation (or after `max_attempts`, when one is set).

The jitter is "equal jitter" (half the capped delay, plus up to as much again), not full jitter: full
jitter may draw delays near zero, so eight attempts added up to at most 127 s and a two-minute outage
failed alerts for good (issue 27 #4). Half the delay is always waited, so the schedule's span has a
lower bound; the other half still spreads alerts that failed together over the window. It is drawn from a
hash of the alert id and the attempt, so one alert's schedule is the same on every relay and in tests.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from fraudlog.config import RelaySettings

DEFAULT_BASE_DELAY = timedelta(seconds=5)
DEFAULT_MAX_DELAY = timedelta(hours=1)
DEFAULT_RETRY_PERIOD = timedelta(days=3)
_MAX_EXPONENT = 62  # so that a huge attempt count cannot overflow


@dataclass(frozen=True)
class RetrySchedule:
    """Delays of `base_delay` doubling per failed attempt up to `max_delay`, each jittered into [half, all]
    of itself; give up when the next attempt would come after `retry_period` from the alert's creation."""

    base_delay: timedelta = DEFAULT_BASE_DELAY
    max_delay: timedelta = DEFAULT_MAX_DELAY
    retry_period: timedelta = DEFAULT_RETRY_PERIOD
    max_attempts: int | None = None  # None: only `retry_period` ends the retries

    @classmethod
    def of(cls, relay: RelaySettings) -> RetrySchedule:
        """The schedule the relay settings describe (FRAUDLOG_ALERT_*)."""
        return cls(base_delay=relay.base_delay, max_delay=relay.max_delay, retry_period=relay.retry_period,
                   max_attempts=relay.max_attempts)

    def delay(self, alert_id: str, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt of this alert (1 for the first failure)."""
        exponent = min(max(attempts - 1, 0), _MAX_EXPONENT)
        cap = min(self.max_delay.total_seconds(), self.base_delay.total_seconds() * 2.0**exponent)
        return timedelta(seconds=cap * (0.5 + 0.5 * jitter(alert_id, attempts)))

    def next_attempt(self, alert_id: str, attempts: int, created_at: datetime, now: datetime) -> datetime | None:
        """When to try again after `attempts` failures, the last at `now`; None: give up (`failed`)."""
        if self.max_attempts is not None and attempts >= self.max_attempts:
            return None
        at = now + self.delay(alert_id, attempts)
        return None if at - created_at > self.retry_period else at


def jitter(alert_id: str, attempts: int) -> float:
    """A number in [0, 1) fixed by the alert and the attempt, spread uniformly across alerts."""
    digest = hashlib.sha256(f"{alert_id}/{attempts}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64
