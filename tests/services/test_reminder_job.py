"""The reminder job (docs/concepts.md#reminders): with the default offsets (72h and 24h before
an automatic release, 24h before a refund request counts as approved and before a due date),
each reminder is stored with its notification once, however many passes run, and never for a
deadline that has since moved, paused or been met.

Time is the frozen clock's; the review window is the default 14 days, a refund's 7 days.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from app.db import models
from app.domain.commands import NewMilestone
from app.domain.reminders import ReminderOffsets
from app.services import reminder_job
from app.services.reminder_job import send_due_reminders
from app.services.runtime import Runtime
from tests.services.conftest import People
from tests.services.flows import Deal
from tests.support import FrozenClock

M1 = 0
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
OFFSETS = ReminderOffsets()


async def told(user_id: int, kind: str) -> list[models.Notification]:
    return await models.Notification.filter(recipient_id=user_id, type=kind).order_by("id")


async def test_the_client_is_reminded_72h_then_24h_before_an_automatic_release_once_each(
    runtime: Runtime, people: People, deal: Deal, clock: FrozenClock
) -> None:
    # given work submitted now: released automatically in 14 days
    await deal.submit(M1)
    release_at = clock.now + 14 * DAY

    # when passes run before, at and after each offset
    sent = [await send_due_reminders(runtime, OFFSETS)]
    for at in (release_at - 72 * HOUR - HOUR, release_at - 72 * HOUR, release_at - 24 * HOUR):
        clock.now = at
        sent += [
            await send_due_reminders(runtime, OFFSETS),
            await send_due_reminders(runtime, OFFSETS),
        ]

    # then one reminder at each offset, to the client, saying when and how much
    assert sent == [0, 0, 0, 1, 0, 1, 0]
    first, second = await told(people.client.actor.user_id, "AUTO_RELEASE_REMINDER")
    assert first.milestone_id == deal.ids[M1]
    assert "100.00 USD" in first.body
    assert "2026-03-15 12:00 UTC" in first.body
    assert second.created_at == release_at - 24 * HOUR
    assert await told(people.freelancer.actor.user_id, "AUTO_RELEASE_REMINDER") == []


async def test_a_release_paused_by_a_refund_request_and_resumed_is_reminded_of_its_new_time(
    runtime: Runtime, people: People, deal: Deal, clock: FrozenClock
) -> None:
    # given the 72h reminder sent for work submitted 11 days ago
    await deal.submit(M1)
    clock.advance(11 * DAY)
    assert await send_due_reminders(runtime, OFFSETS) == 1

    # when a refund request pauses the review clock for two days, then is declined
    refund = await deal.request_refund(M1, amount="10.00")
    clock.advance(2 * DAY)
    paused = await send_due_reminders(runtime, OFFSETS)
    await deal.answer_refund(refund, approve=False)
    resumed = await send_due_reminders(runtime, OFFSETS)

    # then nothing while paused (the old time would have called for the 24h reminder), and
    # the resumed clock's time (72h from now) is reminded anew
    assert (paused, resumed) == (0, 1)
    reminders = await told(people.client.actor.user_id, "AUTO_RELEASE_REMINDER")
    assert len(reminders) == 2
    assert "2026-03-17 12:00 UTC" in reminders[1].body  # 15 March + the 2 days paused
    # and the freelancer, asked to answer in 7 days, was not due a reminder yet
    assert await told(people.freelancer.actor.user_id, "REFUND_RESPONSE_REMINDER") == []


async def test_the_freelancer_is_reminded_a_day_before_a_refund_request_counts_as_approved(
    runtime: Runtime, people: People, deal: Deal, clock: FrozenClock
) -> None:
    await deal.request_refund(M1, amount="40.00")
    clock.advance(6 * DAY - HOUR)
    assert await send_due_reminders(runtime, OFFSETS) == 0
    clock.advance(HOUR)
    assert await send_due_reminders(runtime, OFFSETS) == 1

    [reminder] = await told(people.freelancer.actor.user_id, "REFUND_RESPONSE_REMINDER")
    assert "40.00 USD" in reminder.body


async def test_an_answered_refund_request_is_not_reminded(
    runtime: Runtime, people: People, deal: Deal, clock: FrozenClock
) -> None:
    refund = await deal.request_refund(M1, amount="40.00")
    await deal.answer_refund(refund, approve=False)
    clock.advance(6 * DAY)
    assert await send_due_reminders(runtime, OFFSETS) == 0


async def test_the_freelancer_is_reminded_a_day_before_the_due_date_unless_the_work_is_in(
    runtime: Runtime, people: People, clock: FrozenClock
) -> None:
    # given two contracts' funded milestones due on 5 March (the end of that day, UTC), the
    # second one's work submitted
    deals = [
        await Deal.active(
            runtime,
            people.client.actor,
            people.freelancer.actor,
            NewMilestone(title="Logo", amount=5_000, due_date=date(2026, 3, 5)),
        )
        for _ in range(2)
    ]
    for deal in deals:
        await deal.fund(M1)
    await deals[1].submit(M1)

    # when passes run an hour before the day before ends, and as it ends
    clock.now = datetime(2026, 3, 4, 23, tzinfo=UTC)
    assert await send_due_reminders(runtime, OFFSETS) == 0
    clock.advance(HOUR)
    assert await send_due_reminders(runtime, OFFSETS) == 1

    # then the freelancer is reminded of the work not yet submitted
    [reminder] = await told(people.freelancer.actor.user_id, "DUE_DATE_REMINDER")
    assert reminder.milestone_id == deals[0].ids[M1]
    assert "50.00 USD" in reminder.body


async def test_a_deadline_met_after_the_pass_read_it_is_not_reminded(
    runtime: Runtime,
    people: People,
    deal: Deal,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a pass that read the milestone 72h before its release, then the client released it
    await deal.submit(M1)
    clock.advance(11 * DAY)
    read = await reminder_job.candidates(clock.now, OFFSETS)
    await deal.release(M1)

    async def as_read_before_the_release(now: datetime, offsets: ReminderOffsets) -> object:
        return read

    monkeypatch.setattr(reminder_job, "candidates", as_read_before_the_release)

    # when the pass goes on, then it stores no reminder of a release that happened
    assert await send_due_reminders(runtime, OFFSETS) == 0
    assert await told(people.client.actor.user_id, "AUTO_RELEASE_REMINDER") == []


async def test_passes_running_at_once_send_a_reminder_once(
    runtime: Runtime, people: People, deal: Deal, clock: FrozenClock
) -> None:
    await deal.submit(M1)
    clock.advance(11 * DAY)

    sent = await asyncio.gather(*(send_due_reminders(runtime, OFFSETS) for _ in range(3)))

    assert sum(sent) == 1
    assert len(await told(people.client.actor.user_id, "AUTO_RELEASE_REMINDER")) == 1
    assert await models.SentReminder.all().count() == 1


async def test_no_offsets_no_reminders(
    runtime: Runtime, people: People, deal: Deal, clock: FrozenClock
) -> None:
    await deal.submit(M1)
    clock.advance(13 * DAY)
    assert await send_due_reminders(runtime, ReminderOffsets((), (), ())) == 0
