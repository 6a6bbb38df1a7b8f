"""When a failed webhook delivery is tried again, and when its endpoint is disabled.

`WEBHOOK_RETRY_SCHEDULE` lists the waits after each failed attempt, in order: `5s,5m,30m`
waits 5 seconds after the first attempt fails, 5 minutes after the second, 30 minutes after
the third, and then gives up. A schedule ending in `…` (or `...`) repeats its last wait for
ever, within the horizon. The horizon (`RETRY_HORIZON`, 3 days after the first attempt) bounds
every schedule: a wait that would end past it is cut short so that the last attempt falls on
it, and none comes after. The default `5s,5m,30m,2h,5h,10h,10h,…` makes 13 attempts: at 0,
5 s, ~5 min, ~35 min, ~2.6 h, ~7.6 h, ~17.6 h, ~27.6 h, ~37.6 h, ~47.6 h, ~57.6 h, ~67.6 h
and 72 h. An endpoint is disabled once it has failed for the whole horizon: every attempt to
deliver to it failed since the first failure after its last success, 3 days ago or more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.durations import parse_duration

RETRY_HORIZON = timedelta(days=3)
DEFAULT_SCHEDULE = "5s,5m,30m,2h,5h,10h,10h,…"
_REPEAT = ("…", "...")


@dataclass(frozen=True)
class RetrySchedule:
    waits: tuple[timedelta, ...]
    repeat_last: bool

    @classmethod
    def parse(cls, text: str) -> RetrySchedule:
        items = [item.strip() for item in text.split(",")]
        repeat_last = bool(items) and items[-1] in _REPEAT
        waits = tuple(parse_duration(item) for item in (items[:-1] if repeat_last else items))
        if not waits:
            raise ValueError("expected waits such as 5s,5m,30m (ending in … to repeat the last)")
        if any(wait.total_seconds() <= 0 for wait in waits):
            raise ValueError("every wait must be positive")
        return cls(waits, repeat_last)

    def wait_after(self, attempt: int, since_first: timedelta) -> timedelta | None:
        """The wait before the next attempt once attempt number `attempt` (from 1) failed,
        `since_first` after the first attempt; None when no attempt is left."""
        if attempt < 1:
            raise ValueError("attempts are numbered from 1")
        if attempt <= len(self.waits):
            wait = self.waits[attempt - 1]
        elif self.repeat_last:
            wait = self.waits[-1]
        else:
            return None
        left = RETRY_HORIZON - since_first
        return min(wait, left) if left > timedelta() else None

    def next_attempt_at(self, attempt: int, first_at: datetime, now: datetime) -> datetime | None:
        """When to try again, attempt number `attempt` having failed at `now`; None: give up."""
        wait = self.wait_after(attempt, now - first_at)
        return None if wait is None else now + wait


@dataclass(frozen=True)
class AfterAttempt:
    """What one attempt leaves: when to try this delivery again (None: it succeeded or was
    given up), since when its endpoint has been failing (None: it works), and whether the
    endpoint is to be disabled now."""

    next_attempt_at: datetime | None
    failing_since: datetime | None
    disable: bool


def after_attempt(
    schedule: RetrySchedule,
    *,
    succeeded: bool,
    attempt: int,
    first_at: datetime,
    failing_since: datetime | None,
    now: datetime,
) -> AfterAttempt:
    """`attempt` (from 1) of a delivery first tried at `first_at` ended at `now`; its
    endpoint had been failing since `failing_since`."""
    if succeeded:
        return AfterAttempt(None, None, disable=False)
    since = failing_since or now
    return AfterAttempt(
        schedule.next_attempt_at(attempt, first_at, now), since, now - since >= RETRY_HORIZON
    )
