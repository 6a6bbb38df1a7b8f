"""`WEBHOOK_RETRY_SCHEDULE` and the duration lists of the reminder settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from app.domain.durations import parse_durations
from app.notifications.retries import (
    DEFAULT_SCHEDULE,
    RETRY_HORIZON,
    AfterAttempt,
    RetrySchedule,
    after_attempt,
)

S, M, H = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)


def attempt_times(schedule: RetrySchedule) -> list[timedelta]:
    """When each attempt is made, counted from the first, if every one fails."""
    times = [timedelta()]
    while (wait := schedule.wait_after(len(times), times[-1])) is not None:
        times.append(times[-1] + wait)
    return times


def test_the_default_retries_with_backoff_then_every_10_hours_for_3_days() -> None:
    schedule = RetrySchedule.parse(DEFAULT_SCHEDULE)

    times = attempt_times(schedule)

    assert schedule.waits == (5 * S, 5 * M, 30 * M, 2 * H, 5 * H, 10 * H, 10 * H)
    assert schedule.repeat_last
    gaps = [later - earlier for earlier, later in pairwise(times)]
    assert gaps[:11] == [*schedule.waits, 10 * H, 10 * H, 10 * H, 10 * H]
    assert len(times) == 13 and times[-1] == RETRY_HORIZON


def test_three_dots_repeat_the_last_wait_too() -> None:
    assert RetrySchedule.parse("1h, 12h, ...") == RetrySchedule((H, 12 * H), repeat_last=True)


def test_a_schedule_without_dots_ends_with_its_last_wait() -> None:
    schedule = RetrySchedule.parse("5s,5m")

    assert attempt_times(schedule) == [timedelta(), 5 * S, 5 * S + 5 * M]


def test_no_attempt_is_made_past_three_days_whatever_the_schedule() -> None:
    assert attempt_times(RetrySchedule.parse("2d,2d,2d")) == [timedelta(), 48 * H, 72 * H]


def test_the_next_attempt_is_counted_from_when_the_last_one_failed() -> None:
    schedule = RetrySchedule.parse(DEFAULT_SCHEDULE)
    first = datetime(2026, 3, 1, 12, tzinfo=UTC)

    assert schedule.next_attempt_at(1, first, first + 2 * S) == first + 7 * S
    assert schedule.next_attempt_at(12, first, first + 70 * H) == first + RETRY_HORIZON
    assert schedule.next_attempt_at(13, first, first + RETRY_HORIZON) is None


def test_a_delivery_failing_every_attempt_disables_its_endpoint_at_the_last_one() -> None:
    # given: an endpoint that works until its receiver goes down at `first`
    schedule = RetrySchedule.parse(DEFAULT_SCHEDULE)
    first = datetime(2026, 3, 1, 12, tzinfo=UTC)
    failing_since: datetime | None = None
    at: datetime | None = first
    outcomes: list[AfterAttempt] = []

    # when: every attempt of one delivery fails
    while at is not None:
        outcome = after_attempt(
            schedule,
            succeeded=False,
            attempt=len(outcomes) + 1,
            first_at=first,
            failing_since=failing_since,
            now=at,
        )
        outcomes.append(outcome)
        failing_since, at = outcome.failing_since, outcome.next_attempt_at

    # then: failing since the first failure; disabled by the 13th, the last
    assert len(outcomes) == 13
    assert {o.failing_since for o in outcomes} == {first}
    assert [o.disable for o in outcomes] == [False] * 12 + [True]


def test_a_success_clears_the_endpoints_failing_time() -> None:
    schedule = RetrySchedule.parse(DEFAULT_SCHEDULE)
    now = datetime(2026, 3, 4, 12, tzinfo=UTC)

    worked = after_attempt(
        schedule,
        succeeded=True,
        attempt=9,
        first_at=now - 2 * H,
        failing_since=now - 60 * H,
        now=now,
    )

    assert worked == AfterAttempt(None, None, disable=False)


def test_failures_of_other_deliveries_keep_the_first_failing_time() -> None:
    schedule = RetrySchedule.parse(DEFAULT_SCHEDULE)
    since = datetime(2026, 3, 1, 12, tzinfo=UTC)
    now = since + RETRY_HORIZON  # a newer delivery's first attempt, the receiver still down

    outcome = after_attempt(
        schedule, succeeded=False, attempt=1, first_at=now, failing_since=since, now=now
    )

    assert (outcome.next_attempt_at, outcome.disable) == (now + 5 * S, True)


@pytest.mark.parametrize("text", ["", "…", "5s,,5m", "5s,…,5m", "soon", "0s", "5s,-5m"])
def test_a_bad_schedule_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        RetrySchedule.parse(text)


def test_attempts_are_counted_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        RetrySchedule.parse("5s").wait_after(0, timedelta())


@pytest.mark.parametrize(
    ("text", "durations"),
    [
        ("72h,24h", (72 * H, 24 * H)),
        ("24h, 72h", (72 * H, 24 * H)),
        ("1d,24h", (24 * H,)),
        ("90", (90 * S,)),
        ("", ()),
    ],
)
def test_a_reminder_setting_lists_its_offsets_longest_first(
    text: str, durations: tuple[timedelta, ...]
) -> None:
    assert parse_durations(text) == durations


@pytest.mark.parametrize("text", ["0h", "24h,later", "-1h"])
def test_a_bad_reminder_offset_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_durations(text)
