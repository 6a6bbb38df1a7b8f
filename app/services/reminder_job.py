"""The reminder job: each pass finds the deadlines that come within the reminder offsets and
tells the party who must act (docs/concepts.md#notifications, "Reminders").

Which reminders are due is the planner's (`app.domain.reminders`), from what each milestone is
now, so a deadline met, paused or moved has no reminder of its old value. Each reminder is
stored with its key in `sent_reminders` and its notification in one transaction; the key is
unique, so however many processes run the pass, one of them inserts it and the others insert
nothing: each reminder is sent exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from app.db import models
from app.domain.milestones import MilestoneStatus
from app.domain.notifications import ContractFacts, NotificationType, reminder_notice
from app.domain.permissions import ContractStatus
from app.domain.reminders import (
    WORKED_ON,
    MilestoneDeadlines,
    Reminder,
    ReminderOffsets,
    due_reminders,
)
from app.domain.requests import RefundStatus
from app.services.notifications import add_notices
from app.services.runtime import Runtime
from app.services.statements import is_postgres, rows

# Whether the deadline ($3 the milestone, $4 its value) is still what the reminder is about.
_WORKED_ON = ", ".join(f"'{status}'" for status in sorted(WORKED_ON))
_STILL_DUE = {
    NotificationType.AUTO_RELEASE_REMINDER: "SELECT 1 FROM milestones WHERE id = $3"
    f" AND status = '{MilestoneStatus.SUBMITTED}' AND auto_release_at = $4",
    NotificationType.REFUND_RESPONSE_REMINDER: "SELECT 1 FROM refund_requests"
    f" WHERE milestone_id = $3 AND status = '{RefundStatus.PENDING}' AND respond_by = $4",
    NotificationType.DUE_DATE_REMINDER: "SELECT 1 FROM milestones m JOIN contracts c"
    " ON c.id = m.contract_id WHERE m.id = $3 AND m.due_date = $4"
    f" AND c.status = '{ContractStatus.ACTIVE}' AND m.status IN ({_WORKED_ON})",
}
_INSERT_KEY = (
    "INSERT INTO sent_reminders (key, created_at) SELECT CAST($1 AS TEXT), {now}"
    " WHERE EXISTS ({still_due}) ON CONFLICT (key) DO NOTHING RETURNING key"
)


# On PostgreSQL the contract's row is locked first, as its unit of work locks it: no step
# changes the deadline until the reminder is stored, and the two never wait for each other.
_LOCK_CONTRACT = "SELECT id FROM contracts WHERE id = $1 FOR UPDATE"


def _insert_key(kind: NotificationType, postgres: bool) -> str:
    """The key's INSERT, which stores nothing for a deadline met, paused or moved since the
    pass read it."""
    # SQLite stores a time as the text given; PostgreSQL must be told the text is one
    now = "CAST($2 AS TIMESTAMPTZ)" if postgres else "$2"
    return _INSERT_KEY.format(now=now, still_due=_STILL_DUE[kind])


def _deadline_value(candidate: Candidate, kind: NotificationType) -> object:
    facts = candidate.deadlines
    return {
        NotificationType.AUTO_RELEASE_REMINDER: facts.auto_release_at,
        NotificationType.REFUND_RESPONSE_REMINDER: facts.refund_respond_by,
        NotificationType.DUE_DATE_REMINDER: facts.due_date,
    }[kind]


@dataclass(frozen=True)
class Candidate:
    """A milestone with one deadline within reach, and what its reminder says."""

    deadlines: MilestoneDeadlines
    contract: ContractFacts
    title: str
    amount: int


def _facts(contract: models.Contract) -> ContractFacts:
    return ContractFacts(
        contract.id, contract.title, contract.currency, contract.client_id, contract.freelancer_id
    )


def _reach(offsets: Sequence[timedelta]) -> timedelta | None:
    return max(offsets, default=None)


async def _auto_releases(now: datetime, reach: timedelta) -> list[Candidate]:
    milestones = await models.Milestone.filter(
        status=MilestoneStatus.SUBMITTED,
        deleted=False,
        auto_release_at__gt=now,
        auto_release_at__lte=now + reach,
    ).select_related("contract")
    requested: dict[int, int] = {}
    for submission in await models.Submission.filter(
        milestone_id__in=[m.id for m in milestones]
    ).order_by("id"):
        requested[submission.milestone_id] = submission.requested_amount  # the latest wins
    found = []
    for m in milestones:
        remaining = m.funded_amount - m.released_amount - m.refunded_amount
        facts = MilestoneDeadlines(
            m.id,
            MilestoneStatus(m.status),
            m.contract.status == ContractStatus.ACTIVE,
            auto_release_at=m.auto_release_at,
        )
        amount = min(requested.get(m.id, remaining), remaining)
        found.append(Candidate(facts, _facts(m.contract), m.title, amount))
    return found


async def _refund_responses(now: datetime, reach: timedelta) -> list[Candidate]:
    requests = await models.RefundRequest.filter(
        status=RefundStatus.PENDING, respond_by__gt=now, respond_by__lte=now + reach
    ).select_related("milestone", "contract")
    return [
        Candidate(
            MilestoneDeadlines(
                r.milestone.id,
                MilestoneStatus(r.milestone.status),
                r.contract.status == ContractStatus.ACTIVE,
                refund_respond_by=r.respond_by,
            ),
            _facts(r.contract),
            r.milestone.title,
            r.amount,
        )
        for r in requests
        if not r.milestone.deleted
    ]


async def _due_dates(now: datetime, reach: timedelta) -> list[Candidate]:
    milestones = await models.Milestone.filter(
        status__in=sorted(WORKED_ON),
        deleted=False,
        due_date__gte=now.date(),
        due_date__lte=(now + reach).date(),
        contract__status=ContractStatus.ACTIVE,
    ).select_related("contract")
    return [
        Candidate(
            MilestoneDeadlines(
                m.id, MilestoneStatus(m.status), contract_active=True, due_date=m.due_date
            ),
            _facts(m.contract),
            m.title,
            m.amount,
        )
        for m in milestones
    ]


async def candidates(now: datetime, offsets: ReminderOffsets) -> list[Candidate]:
    """The milestones whose deadlines some offset reaches at `now`."""
    found: list[Candidate] = []
    for kind, find in (
        (NotificationType.AUTO_RELEASE_REMINDER, _auto_releases),
        (NotificationType.REFUND_RESPONSE_REMINDER, _refund_responses),
        (NotificationType.DUE_DATE_REMINDER, _due_dates),
    ):
        reach = _reach(offsets.of(kind))
        if reach is not None:
            found += await find(now, reach)
    return found


async def _unsent(keys: list[str]) -> set[str]:
    if not keys:
        return set()
    sent = await models.SentReminder.filter(key__in=keys).values_list("key", flat=True)
    return set(keys) - set(sent)


async def _send(runtime: Runtime, candidate: Candidate, reminder: Reminder) -> bool:
    """Store the reminder's key and its notification together; False when another pass
    stored the key first, or its deadline changed since it was read."""
    facts = candidate.deadlines
    notice = reminder_notice(
        reminder.deadline.kind,
        candidate.contract,
        candidate.deadlines.milestone_id,
        candidate.title,
        reminder.deadline.at,
        candidate.amount,
    )
    async with in_transaction() as conn:
        kind = reminder.deadline.kind
        if is_postgres(conn):
            await rows(conn, _LOCK_CONTRACT, [candidate.contract.id])
        params = [
            reminder.key,
            runtime.clock(),
            facts.milestone_id,
            _deadline_value(candidate, kind),
        ]
        if not await rows(conn, _insert_key(kind, is_postgres(conn)), params):
            return False
        announced = await add_notices(runtime, conn, [notice])
    runtime.bus.committed(announced)
    return True


async def send_due_reminders(runtime: Runtime, offsets: ReminderOffsets) -> int:
    """One pass: the reminders due now that no pass has sent; returns how many it sent."""
    now = runtime.clock()
    due = [
        (candidate, reminder)
        for candidate in await candidates(now, offsets)
        for reminder in due_reminders(candidate.deadlines, offsets, now)
    ]
    unsent = await _unsent([reminder.key for _, reminder in due])
    sent = 0
    for candidate, reminder in due:
        if reminder.key in unsent and await _send(runtime, candidate, reminder):
            sent += 1
    return sent
