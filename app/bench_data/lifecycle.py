"""One contract of the bench data set, taken through the steps of its lifecycle.

`Play` makes, for each step, the rows the same action makes through the service: the events
under the contract's next sequence, the ledger entries with their fees (the policy of the
settings, `app.domain.money.fee`), submissions, refund requests and disputes, and the changed
milestone and contract (status, amounts, times, review clock, version). Only what this data set
needs is played: a milestone is funded in full and released in full, refunded in full, left
active, or cancelled when its contract closes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tortoise.models import Model

from app.db import models
from app.domain.events import EventType
from app.domain.ledger import ROUTES, EntryKind
from app.domain.milestones import MilestoneStatus, SubmissionStatus
from app.domain.money import fee
from app.domain.permissions import ContractStatus
from app.domain.policy import Policy
from app.domain.requests import DisputeStatus, RefundStatus

MILESTONES_PER_CONTRACT = 10
# The milestone a contract is at, after its finished ones: none yet, or one in each active state.
ACTIVE_STATES = ("next", "FUNDED", "SUBMITTED", "REVISION_REQUESTED", "DISPUTED")
TITLES = ("Research", "Wireframes", "Design", "Build", "Review", "Launch", "Support")


@dataclass
class Rows:
    """The rows to insert, by table, in an order the foreign keys accept."""

    users: list[Model] = field(default_factory=list)
    contracts: list[Model] = field(default_factory=list)
    milestones: list[Model] = field(default_factory=list)
    submissions: list[Model] = field(default_factory=list)
    requests: list[Model] = field(default_factory=list)
    entries: list[Model] = field(default_factory=list)
    events: list[Model] = field(default_factory=list)

    def tables(self) -> tuple[list[Model], ...]:
        return (
            self.users,
            self.contracts,
            self.milestones,
            self.submissions,
            self.requests,
            self.entries,
            self.events,
        )


@dataclass
class Ids:
    """The last id taken in each table."""

    milestone: int = 0
    submission: int = 0
    entry: int = 0
    event: int = 0
    refund: int = 0
    dispute: int = 0

    def take(self, name: str) -> int:
        value: int = getattr(self, name) + 1
        setattr(self, name, value)
        return value


@dataclass
class Play:
    """One contract taken through the steps of the lifecycle, as the aggregate takes them:
    each step makes the events, ledger entries and row changes that the same action makes
    there (fees per the policy, escrow charged on funding, refunds on closing)."""

    contract: models.Contract
    milestones: list[models.Milestone]
    policy: Policy
    rng: random.Random
    ids: Ids
    rows: Rows
    now: datetime
    by_kind: dict[EntryKind, int] = field(default_factory=lambda: dict.fromkeys(EntryKind, 0))
    pending: dict[int, models.Submission] = field(default_factory=dict)

    def tick(self) -> None:
        self.now += timedelta(minutes=self.rng.randint(1, 30))
        self.contract.version += 1

    def emit(
        self,
        type_: EventType,
        actor_id: int | None,
        milestone: models.Milestone | None = None,
        amount: int | None = None,
        message: str | None = None,
    ) -> None:
        self.contract.last_sequence += 1
        self.rows.events.append(
            models.ContractEvent(
                id=self.ids.take("event"),
                contract_id=self.contract.id,
                sequence=self.contract.last_sequence,
                type=type_,
                occurred_at=self.now,
                actor_id=actor_id,
                milestone_id=milestone.id if milestone else None,
                amount=amount,
                message=message,
            )
        )

    def record(
        self,
        kind: EntryKind,
        amount: int,
        milestone: models.Milestone | None = None,
        refunded_fee: EntryKind | None = None,
    ) -> None:
        if amount <= 0:
            return
        debit, credit = ROUTES[kind]
        self.by_kind[kind] += amount
        self.rows.entries.append(
            models.LedgerEntry(
                id=self.ids.take("entry"),
                contract_id=self.contract.id,
                milestone_id=milestone.id if milestone else None,
                kind=kind,
                amount=amount,
                debit_account=debit,
                credit_account=credit,
                refunded_fee=refunded_fee,
                created_at=self.now,
            )
        )

    # --- the actions -------------------------------------------------------------------------

    def accept(self) -> None:
        self.tick()
        self.contract.status = ContractStatus.ACTIVE
        self.contract.accepted_at = self.now
        self.emit(EventType.CONTRACT_ACCEPTED, self.contract.freelancer_id)

    def fund(self, m: models.Milestone) -> None:
        """Nothing is ever left available in this data set, so the whole amount is charged."""
        self.tick()
        self.record(EntryKind.FUNDING, m.amount, m)
        self.record(
            EntryKind.PROCESSING_FEE, fee(m.amount, self.policy.client_processing_fee_bps), m
        )
        if not self.by_kind[EntryKind.INITIATION_FEE]:
            self.record(EntryKind.INITIATION_FEE, self.policy.contract_initiation_fee, m)
        m.funded_amount, m.status, m.funded_at = m.amount, MilestoneStatus.FUNDED, self.now
        self.emit(EventType.MILESTONE_FUNDED, self.contract.client_id, m, m.amount)

    def submit(self, m: models.Milestone) -> None:
        self.tick()
        message = "Done, see the attachment."
        self.pending[m.id] = submission = models.Submission(
            id=self.ids.take("submission"),
            milestone_id=m.id,
            message=message,
            attachments=[f"https://files.example.com/{m.id}.pdf"],
            requested_amount=m.funded_amount,
            units=None,
            status=SubmissionStatus.PENDING,
            created_at=self.now,
        )
        self.rows.submissions.append(submission)
        m.status, m.submitted_at = MilestoneStatus.SUBMITTED, self.now
        m.auto_release_at = self.now + self.policy.auto_release_after
        self.emit(EventType.MILESTONE_SUBMITTED, self.contract.freelancer_id, m, m.amount, message)

    def revise(self, m: models.Milestone) -> None:
        self.tick()
        m.status, m.auto_release_at = MilestoneStatus.REVISION_REQUESTED, None
        self.pending.pop(m.id).status = SubmissionStatus.REVISION_REQUESTED
        self.emit(
            EventType.MILESTONE_REVISION_REQUESTED, self.contract.client_id, m, message="Fix it"
        )

    def release(self, m: models.Milestone) -> None:
        """The client pays what the pending submission asks: the whole escrow."""
        self.tick()
        amount = m.funded_amount
        self.record(EntryKind.RELEASE, amount, m)
        self.record(EntryKind.SERVICE_FEE, fee(amount, self.policy.freelancer_service_fee_bps), m)
        m.released_amount, m.released_at, m.auto_release_at = amount, self.now, None
        m.status = MilestoneStatus.RELEASED
        self.pending.pop(m.id).status = SubmissionStatus.RELEASED
        self.emit(EventType.MILESTONE_RELEASED, self.contract.client_id, m, amount)

    def refund(self, m: models.Milestone) -> None:
        """The client asks for all of a funded milestone's escrow back; the freelancer agrees."""
        self.tick()
        client, freelancer = self.contract.client_id, self.contract.freelancer_id
        request = models.RefundRequest(
            id=self.ids.take("refund"),
            contract_id=self.contract.id,
            milestone_id=m.id,
            amount=m.funded_amount,
            reason="Plans changed",
            status=RefundStatus.PENDING,
            respond_by=self.now + self.policy.refund_response_window,
            created_at=self.now,
        )
        self.rows.requests.append(request)
        self.emit(EventType.REFUND_REQUESTED, client, m, request.amount, request.reason)
        self.tick()
        request.status, request.resolved_at = RefundStatus.APPROVED, self.now
        self.emit(EventType.REFUND_APPROVED, freelancer, m, request.amount)
        self._return(m, freelancer)

    def _return(self, m: models.Milestone, actor_id: int) -> None:
        """A milestone's escrow goes back to the client; nothing of it was released."""
        amount = m.funded_amount - m.released_amount - m.refunded_amount
        self.record(EntryKind.REFUND, amount, m)
        m.refunded_amount += amount
        self.emit(EventType.MILESTONE_REFUNDED, actor_id, m, amount)
        m.status, m.auto_release_at, m.review_seconds_left = MilestoneStatus.REFUNDED, None, None

    def dispute(self, m: models.Milestone) -> None:
        """The freelancer disputes submitted work: the review clock pauses."""
        self.tick()
        reason = "The work is as agreed"
        assert m.auto_release_at is not None
        m.review_seconds_left = int((m.auto_release_at - self.now).total_seconds())
        m.auto_release_at = None
        self.rows.requests.append(
            models.Dispute(
                id=self.ids.take("dispute"),
                contract_id=self.contract.id,
                milestone_id=m.id,
                opened_by_id=self.contract.freelancer_id,
                reason=reason,
                status=DisputeStatus.OPEN,
                previous_status=m.status,
                created_at=self.now,
            )
        )
        m.status = MilestoneStatus.DISPUTED
        self.emit(
            EventType.DISPUTE_OPENED,
            self.contract.freelancer_id,
            m,
            message="The work is as agreed",
        )

    def close(self, actor_id: int, *, decline: bool) -> None:
        """Decline or end: funded escrow returns, unfunded milestones are cancelled, and the
        refundable fees come back (the initiation fee if nothing was released; an offer's
        processing fees too)."""
        self.tick()
        was_offer = self.contract.status is ContractStatus.OFFERED
        for m in self.milestones:
            if m.status is MilestoneStatus.FUNDED:
                self._return(m, actor_id)
            elif m.status is MilestoneStatus.NOT_FUNDED:
                m.status = MilestoneStatus.CANCELLED
        kinds = [EntryKind.PROCESSING_FEE] if was_offer else []
        if not self.by_kind[EntryKind.RELEASE]:
            kinds.append(EntryKind.INITIATION_FEE)
        for kind in sorted(kinds):
            self.record(EntryKind.FEE_REFUND, self.by_kind[kind], refunded_fee=kind)
        self.contract.status = ContractStatus.DECLINED if decline else ContractStatus.ENDED
        self.contract.ended_at = self.now
        type_ = EventType.CONTRACT_DECLINED if decline else EventType.CONTRACT_ENDED
        self.emit(type_, actor_id, message="Fully booked" if decline else "Wrapping up")

    # --- a contract's story --------------------------------------------------------------------

    def finish(self, m: models.Milestone) -> None:
        """A milestone worked through to its end: released (mostly) or refunded."""
        self.fund(m)
        if self.rng.random() < 0.12:
            self.refund(m)
            return
        self.submit(m)
        if self.rng.random() < 0.25:
            self.revise(m)
            self.submit(m)
        self.release(m)

    def work_on(self, m: models.Milestone, state: str) -> None:
        """Leave the milestone active in `state`, or untouched for "next"."""
        if state == "next":
            return
        self.fund(m)
        if state != "FUNDED":
            self.submit(m)
        if state == "REVISION_REQUESTED":
            self.revise(m)
        elif state == "DISPUTED":
            self.dispute(m)

    def play(self) -> None:
        rng, c = self.rng, self.contract
        outcome = rng.choices(("offer", "decline", "active", "end"), (8, 5, 67, 20))[0]
        if outcome in ("offer", "decline"):
            if rng.random() < 0.5:
                self.fund(self.milestones[0])
            if outcome == "decline":
                self.close(c.freelancer_id, decline=True)
            return
        self.accept()
        done = rng.randint(0, len(self.milestones))
        for m in self.milestones[:done]:
            self.finish(m)
        if done < len(self.milestones):
            states = ACTIVE_STATES if outcome == "active" else ("next", "FUNDED")
            self.work_on(self.milestones[done], rng.choice(states))
        if outcome == "end":
            # The client ends a contract at rest, the freelancer one with funded work.
            active = any(m.status is MilestoneStatus.FUNDED for m in self.milestones)
            self.close(c.freelancer_id if active else c.client_id, decline=False)


def play_contract(
    contract: models.Contract, policy: Policy, rng: random.Random, ids: Ids, rows: Rows
) -> None:
    """Offer `contract` with its milestones, then play it; its rows go to `rows`."""
    number = contract.id
    milestones = [
        models.Milestone(
            id=ids.take("milestone"),
            contract_id=contract.id,
            position=i + 1,
            title=f"{TITLES[i % len(TITLES)]} {i + 1}",
            description=f"Milestone {i + 1} of contract {number}.",
            amount=rng.randint(10, 2_000) * 100,
            status=MilestoneStatus.NOT_FUNDED,
        )
        for i in range(MILESTONES_PER_CONTRACT)
    ]
    play = Play(contract, milestones, policy, rng, ids, rows, now=contract.created_at)
    play.emit(EventType.CONTRACT_OFFERED, contract.client_id)
    play.play()
    rows.contracts.append(contract)
    rows.milestones += milestones
