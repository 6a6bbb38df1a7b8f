"""Which reminders are due, on a clock the test moves, and keyed so each is sent once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from app.domain.clock import pause_review, resume_review, start_review
from app.domain.milestones import Milestone, MilestoneStatus
from app.domain.notifications import NotificationType
from app.domain.reminders import MilestoneDeadlines, Reminder, ReminderOffsets, due_reminders
from tests.support import FrozenClock

OFFSETS = ReminderOffsets()  # the defaults: 72h,24h before auto-release, 24h before the others
HOUR = timedelta(hours=1)
AUTO = NotificationType.AUTO_RELEASE_REMINDER


def submitted(clock: FrozenClock, review_for: timedelta = timedelta(days=14)) -> Milestone:
    milestone = Milestone(11, 1, "Logo", "", 100_00, None, status=MilestoneStatus.SUBMITTED)
    start_review(milestone, clock(), review_for)
    return milestone


def facts(milestone: Milestone, refund_respond_by: datetime | None = None) -> MilestoneDeadlines:
    assert milestone.id is not None
    return MilestoneDeadlines(
        milestone.id,
        milestone.status,
        contract_active=True,
        auto_release_at=milestone.auto_release_at,
        due_date=milestone.due_date,
        refund_respond_by=refund_respond_by,
    )


class Sender:
    """What the job does with the planner's answer: keeps each key once (the unique row)."""

    def __init__(self) -> None:
        self.sent: dict[str, Reminder] = {}

    def run(self, milestone: MilestoneDeadlines, now: datetime) -> list[Reminder]:
        new = [r for r in due_reminders(milestone, OFFSETS, now) if r.key not in self.sent]
        self.sent.update((reminder.key, reminder) for reminder in new)
        return new


def test_the_client_is_reminded_72h_and_24h_before_the_automatic_release_once_each() -> None:
    # given
    clock = FrozenClock()
    milestone = submitted(clock)
    release_at = clock() + timedelta(days=14)
    sender = Sender()

    # when / then
    assert sender.run(facts(milestone), clock()) == []
    clock.advance(timedelta(days=11) - HOUR)
    assert sender.run(facts(milestone), clock()) == []
    clock.advance(HOUR)  # 72 hours left
    [first] = sender.run(facts(milestone), clock())
    assert (first.deadline.kind, first.deadline.at, first.before) == (AUTO, release_at, 72 * HOUR)
    clock.advance(HOUR)
    assert sender.run(facts(milestone), clock()) == []
    clock.advance(timedelta(days=2) - HOUR)  # 24 hours left
    [second] = sender.run(facts(milestone), clock())
    assert second.before == 24 * HOUR and second.key != first.key
    clock.advance(23 * HOUR)
    assert sender.run(facts(milestone), clock()) == []
    clock.advance(HOUR)  # the deadline itself: the release happens, no reminder
    assert due_reminders(facts(milestone), OFFSETS, clock()) == []
    assert len(sender.sent) == 2


def test_a_process_down_past_both_offsets_sends_only_the_latest_reminder() -> None:
    clock = FrozenClock()
    milestone = submitted(clock)

    [reminder] = due_reminders(facts(milestone), OFFSETS, clock() + timedelta(days=13))

    assert reminder.before == 24 * HOUR


def test_a_window_shorter_than_an_offset_reminds_at_once() -> None:
    clock = FrozenClock()
    milestone = submitted(clock, review_for=timedelta(days=2))

    [reminder] = due_reminders(facts(milestone), OFFSETS, clock())

    assert reminder.before == 72 * HOUR


def test_a_paused_deadline_has_no_reminder_and_a_resumed_one_gets_new_keys() -> None:
    # given: the 72h reminder was sent, then a refund request paused the clock
    clock = FrozenClock()
    milestone = submitted(clock)
    sender = Sender()
    clock.advance(timedelta(days=11))
    [before_pause] = sender.run(facts(milestone), clock())
    clock.advance(HOUR)
    pause_review(milestone, clock())
    respond_by = clock() + timedelta(days=7)

    # when: paused for a week, the refund request waiting for the freelancer
    clock.advance(timedelta(days=6))
    paused = facts(milestone, refund_respond_by=respond_by)
    [refund] = sender.run(paused, clock())

    # then: no reminder of the paused release, one of the refund's deadline
    assert refund.deadline.kind is NotificationType.REFUND_RESPONSE_REMINDER
    assert refund.deadline.at == respond_by
    assert [r.deadline.kind for r in due_reminders(paused, OFFSETS, clock())] == [
        refund.deadline.kind
    ]

    # when: the refund is declined and the clock resumes with the 71 hours that were left
    resume_review(milestone, clock())
    [after_resume] = sender.run(facts(milestone), clock())

    # then: the moved deadline is a new one, reminded again; the old key is never due again
    assert after_resume.deadline.at == clock() + 71 * HOUR
    assert after_resume.before == 72 * HOUR and after_resume.key != before_pause.key
    clock.advance(47 * HOUR)
    [last] = sender.run(facts(milestone), clock())
    assert last.before == 24 * HOUR and last.deadline.at == after_resume.deadline.at
    assert sender.run(facts(milestone), clock()) == []


def test_a_met_deadline_has_no_reminder() -> None:
    clock = FrozenClock()
    milestone = submitted(clock)
    milestone.status = MilestoneStatus.RELEASED  # released by the client in time
    late = clock() + timedelta(days=13)

    assert due_reminders(facts(milestone), OFFSETS, late) == []


def test_the_freelancer_is_reminded_of_a_due_date_while_the_work_is_on() -> None:
    # given: due on 3 March (the end of that day, UTC); the clock is 1 March 12:00
    clock = FrozenClock()
    on = MilestoneDeadlines(11, MilestoneStatus.FUNDED, True, due_date=date(2026, 3, 3))
    at_start_of_day = datetime(2026, 3, 3, tzinfo=UTC)

    # then
    assert due_reminders(on, OFFSETS, clock()) == []
    [reminder] = due_reminders(on, OFFSETS, at_start_of_day)
    assert reminder.deadline.kind is NotificationType.DUE_DATE_REMINDER
    assert reminder.deadline.at == datetime(2026, 3, 4, tzinfo=UTC)
    assert reminder.key == "DUE_DATE_REMINDER:11:20260304T000000:86400"
    for status in (MilestoneStatus.NOT_FUNDED, MilestoneStatus.SUBMITTED, MilestoneStatus.DISPUTED):
        not_on = MilestoneDeadlines(11, status, True, due_date=on.due_date)
        assert due_reminders(not_on, OFFSETS, at_start_of_day) == []
    ended = MilestoneDeadlines(11, MilestoneStatus.FUNDED, False, due_date=on.due_date)
    assert due_reminders(ended, OFFSETS, at_start_of_day) == []


def test_a_moved_due_date_is_a_new_deadline() -> None:
    old = MilestoneDeadlines(11, MilestoneStatus.FUNDED, True, due_date=date(2026, 3, 3))
    new = MilestoneDeadlines(11, MilestoneStatus.FUNDED, True, due_date=date(2026, 3, 10))
    now = datetime(2026, 3, 3, 1, tzinfo=UTC)

    [reminder] = due_reminders(old, OFFSETS, now)

    assert due_reminders(new, OFFSETS, now) == []
    [moved] = due_reminders(new, OFFSETS, now + timedelta(days=7))
    assert moved.key != reminder.key


def test_no_offsets_means_no_reminders() -> None:
    clock = FrozenClock()
    milestone = submitted(clock)
    silent = ReminderOffsets(auto_release=())

    assert due_reminders(facts(milestone), silent, clock() + timedelta(days=13)) == []
