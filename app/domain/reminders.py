"""Which reminders are due: before an automatic release, a refund's deadline and a due date.

A milestone's deadlines are read from what it is now, so a deadline that was met (the work
released, the refund answered, the work submitted), paused (a refund request or a dispute clears
`autoReleaseAt`) or that is past has none. A reminder's key holds the deadline's value: one that
moved (a resumed review clock, a new due date) is a new deadline whose reminders have new keys,
and the job that sends them stores each key once (a unique key), so each is sent exactly once.

Of the offsets before a deadline (`72h,24h`), only the latest one reached is due: a process that
was down for both sends one reminder, not two. An offset longer than the time the deadline was
set for is reached at once.

A due date is a calendar date; its deadline is the end of that day in UTC. The freelancer is
reminded of it while the milestone is being worked on (`FUNDED`, `REVISION_REQUESTED`) on an
active contract: submitted work meets it, and an unfunded milestone has no work started yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from app.domain.milestones import MilestoneStatus
from app.domain.notifications import NotificationType

WORKED_ON = frozenset({MilestoneStatus.FUNDED, MilestoneStatus.REVISION_REQUESTED})


@dataclass(frozen=True)
class ReminderOffsets:
    """How long before each deadline its reminders are sent (the three settings)."""

    auto_release: Sequence[timedelta] = (timedelta(hours=72), timedelta(hours=24))
    refund_response: Sequence[timedelta] = (timedelta(hours=24),)
    due_date: Sequence[timedelta] = (timedelta(hours=24),)

    def of(self, kind: NotificationType) -> Sequence[timedelta]:
        return {
            NotificationType.AUTO_RELEASE_REMINDER: self.auto_release,
            NotificationType.REFUND_RESPONSE_REMINDER: self.refund_response,
            NotificationType.DUE_DATE_REMINDER: self.due_date,
        }[kind]


@dataclass(frozen=True)
class MilestoneDeadlines:
    """What a milestone is now, as far as its deadlines go."""

    milestone_id: int
    status: MilestoneStatus
    contract_active: bool
    auto_release_at: datetime | None = None
    refund_respond_by: datetime | None = None  # of its pending refund request
    due_date: date | None = None


@dataclass(frozen=True)
class Deadline:
    kind: NotificationType
    milestone_id: int
    at: datetime


@dataclass(frozen=True)
class Reminder:
    deadline: Deadline
    before: timedelta

    @property
    def key(self) -> str:
        """Unique per deadline value and offset: the row that makes the sending happen once."""
        at = self.deadline.at.astimezone(UTC).strftime("%Y%m%dT%H%M%S")
        seconds = int(self.before.total_seconds())
        return f"{self.deadline.kind}:{self.deadline.milestone_id}:{at}:{seconds}"


def due_date_deadline(day: date) -> datetime:
    """The end of the due date in UTC."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def deadlines(milestone: MilestoneDeadlines) -> list[Deadline]:
    found: list[Deadline] = []
    if milestone.status is MilestoneStatus.SUBMITTED and milestone.auto_release_at is not None:
        found.append(
            Deadline(
                NotificationType.AUTO_RELEASE_REMINDER,
                milestone.milestone_id,
                milestone.auto_release_at,
            )
        )
    if milestone.refund_respond_by is not None:
        found.append(
            Deadline(
                NotificationType.REFUND_RESPONSE_REMINDER,
                milestone.milestone_id,
                milestone.refund_respond_by,
            )
        )
    if (
        milestone.due_date is not None
        and milestone.contract_active
        and milestone.status in WORKED_ON
    ):
        found.append(
            Deadline(
                NotificationType.DUE_DATE_REMINDER,
                milestone.milestone_id,
                due_date_deadline(milestone.due_date),
            )
        )
    return found


def due_reminders(
    milestone: MilestoneDeadlines, offsets: ReminderOffsets, now: datetime
) -> list[Reminder]:
    """The reminders to send at `now`: for each deadline still ahead, the shortest offset
    already reached."""
    due: list[Reminder] = []
    for deadline in deadlines(milestone):
        if deadline.at <= now:
            continue
        reached = [before for before in offsets.of(deadline.kind) if deadline.at - before <= now]
        if reached:
            due.append(Reminder(deadline, min(reached)))
    return due
