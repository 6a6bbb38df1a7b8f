"""One contract of the bench data set, taken through its lifecycle by the domain itself.

`Play` offers the contract (`Contract.offer`) and runs the aggregate's actions on it as its
parties would (fund, submit, request a revision, release, ask for and approve a refund, open a
dispute, decline, end), so every rule, fee, event and ledger entry is the domain's: the data are
consistent by construction. Between two actions its clock moves on a few minutes, as if each
were a request of its own; no deadline falls inside a contract's story (a week at most, the
review clock is 14 days), so none is applied. What the aggregate made is then turned into rows
(ids chosen here) for a bulk insert: the rows a unit of work would have written, step by step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tortoise.models import Model

from app.db import models
from app.domain import commands
from app.domain.contract import Contract
from app.domain.milestones import MilestoneStatus, Submission
from app.domain.permissions import Actor
from app.domain.policy import Policy
from app.services.mappers import DISPUTES, MILESTONES, REFUND_REQUESTS, SUBMISSIONS
from app.services.repository import entry_values, event_values

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
    """A contract and its parties, acting on it one step at a time. Each step's new entries and
    events are kept with the time of the step (the aggregate stamps them when it is saved), and
    each new submission, refund request and dispute gets its id as soon as it is made."""

    contract: Contract
    rng: random.Random
    ids: Ids
    version: int = 0
    entry_times: list[datetime] = field(default_factory=list)
    event_times: list[datetime] = field(default_factory=list)
    submissions: list[tuple[int, Submission]] = field(default_factory=list)

    @property
    def client(self) -> Actor:
        return Actor(user_id=self.contract.client_id, is_admin=False)

    @property
    def freelancer(self) -> Actor:
        return Actor(user_id=self.contract.freelancer_id, is_admin=False)

    def step(self) -> None:
        """What one unit of work adds: its time on what it made, ids for what it created."""
        c = self.contract
        self.version += 1
        self.entry_times += [c.now] * (len(c.entries) - len(self.entry_times))
        self.event_times += [c.now] * (len(c.events) - len(self.event_times))
        for milestone in c.milestones:
            submission = milestone.latest_submission
            if submission is not None and submission.id is None:
                submission.id = self.ids.take("submission")
                assert milestone.id is not None
                self.submissions.append((milestone.id, submission))
        for refund in c.refunds:
            refund.id = refund.id or self.ids.take("refund")
        for dispute in c.disputes:
            dispute.id = dispute.id or self.ids.take("dispute")
        c.now += timedelta(minutes=self.rng.randint(1, 30))

    # --- the actions -------------------------------------------------------------------------

    def fund(self, milestone_id: int) -> None:
        self.contract.fund(self.client, milestone_id)
        self.step()

    def submit(self, milestone_id: int) -> None:
        c = self.contract
        attachment = f"https://files.example.com/{milestone_id}.pdf"
        command = commands.SubmitMilestone(
            milestone_id=milestone_id,
            message="Done, see the attachment.",
            attachments=(attachment,),
        )
        c.submit(self.freelancer, command)
        self.step()

    def revise(self, milestone_id: int) -> None:
        command = commands.RequestRevision(milestone_id=milestone_id, message="Fix it")
        self.contract.request_revision(self.client, command)
        self.step()

    def release(self, milestone_id: int) -> None:
        """The client pays what the pending submission asks: the whole escrow."""
        self.contract.release(self.client, commands.ReleaseMilestone(milestone_id=milestone_id))
        self.step()

    def refund(self, milestone_id: int) -> None:
        """The client asks for all of a funded milestone's escrow back; the freelancer agrees."""
        command = commands.RequestRefund(milestone_id=milestone_id, reason="Plans changed")
        request = self.contract.request_refund(self.client, command)
        self.step()
        assert request.id is not None
        answer = commands.RespondToRefundRequest(refund_request_id=request.id, approve=True)
        self.contract.answer_refund(self.freelancer, answer)
        self.step()

    def dispute(self, milestone_id: int) -> None:
        """The freelancer disputes the review of submitted work: the review clock pauses."""
        command = commands.OpenDispute(milestone_id=milestone_id, reason="The work is as agreed")
        self.contract.open_dispute(self.freelancer, command)
        self.step()

    def accept(self) -> None:
        self.contract.accept(self.freelancer)
        self.step()

    def decline(self) -> None:
        assert self.contract.id is not None
        command = commands.DeclineContract(contract_id=self.contract.id, reason="Fully booked")
        self.contract.decline(self.freelancer, command)
        self.step()

    def end(self) -> None:
        """The client ends a contract at rest, the freelancer one with funded work."""
        c = self.contract
        assert c.id is not None
        funded = any(m.status is MilestoneStatus.FUNDED for m in c.milestones)
        command = commands.EndContract(contract_id=c.id, reason="Wrapping up")
        c.end(self.freelancer if funded else self.client, command)
        self.step()

    # --- a contract's story --------------------------------------------------------------------

    def finish(self, milestone_id: int) -> None:
        """A milestone worked through to its end: released (mostly) or refunded."""
        self.fund(milestone_id)
        if self.rng.random() < 0.12:
            self.refund(milestone_id)
            return
        self.submit(milestone_id)
        if self.rng.random() < 0.25:
            self.revise(milestone_id)
            self.submit(milestone_id)
        self.release(milestone_id)

    def work_on(self, milestone_id: int, state: str) -> None:
        """Leave the milestone active in `state`, or untouched for "next"."""
        if state == "next":
            return
        self.fund(milestone_id)
        if state != "FUNDED":
            self.submit(milestone_id)
        if state == "REVISION_REQUESTED":
            self.revise(milestone_id)
        elif state == "DISPUTED":
            self.dispute(milestone_id)

    def play(self) -> None:
        rng = self.rng
        ids = [m.id for m in self.contract.milestones if m.id is not None]
        outcome = rng.choices(("offer", "decline", "active", "end"), (8, 5, 67, 20))[0]
        if outcome in ("offer", "decline"):
            if rng.random() < 0.5:
                self.fund(ids[0])
            if outcome == "decline":
                self.decline()
            return
        self.accept()
        done = rng.randint(0, len(ids))
        for milestone_id in ids[:done]:
            self.finish(milestone_id)
        if done < len(ids):
            states = ACTIVE_STATES if outcome == "active" else ("next", "FUNDED")
            self.work_on(ids[done], rng.choice(states))
        if outcome == "end":
            self.end()

    # --- the rows ------------------------------------------------------------------------------

    def rows(self, rows: Rows) -> None:
        """What the aggregate made, as the rows to insert."""
        c = self.contract
        assert c.id is not None
        rows.contracts.append(
            models.Contract(
                id=c.id,
                client_id=c.client_id,
                freelancer_id=c.freelancer_id,
                title=c.title,
                description=c.description,
                currency=c.currency,
                status=c.status,
                created_at=c.created_at,
                accepted_at=c.accepted_at,
                ended_at=c.ended_at,
                last_sequence=c.last_sequence,
                version=self.version,
            )
        )
        rows.milestones += [
            models.Milestone(id=m.id, contract_id=c.id, **MILESTONES.values(m))
            for m in c.milestones
        ]
        rows.submissions += [
            models.Submission(id=s.id, milestone_id=milestone_id, **SUBMISSIONS.values(s))
            for milestone_id, s in self.submissions
        ]
        rows.requests += [
            models.RefundRequest(id=r.id, contract_id=c.id, **REFUND_REQUESTS.values(r))
            for r in c.refunds
        ]
        rows.requests += [
            models.Dispute(id=d.id, contract_id=c.id, **DISPUTES.values(d)) for d in c.disputes
        ]
        rows.entries += [
            models.LedgerEntry(id=self.ids.take("entry"), **entry_values(c.id, e, when))
            for e, when in zip(c.entries, self.entry_times, strict=True)
        ]
        rows.events += [
            models.ContractEvent(id=self.ids.take("event"), **event_values(c.id, e, when))
            for e, when in zip(c.events, self.event_times, strict=True)
        ]


def play_contract(
    contract_id: int,
    parties: tuple[int, int],
    created_at: datetime,
    policy: Policy,
    rng: random.Random,
    ids: Ids,
    rows: Rows,
) -> None:
    """Offer a contract of `parties` (client, freelancer) with its milestones, then play it; its
    rows go to `rows`."""
    client_id, freelancer_id = parties
    offer = commands.CreateContract(
        freelancer_id=freelancer_id,
        title=f"Bench contract {contract_id}",
        description=f"Contract {contract_id} of the benchmark data set.",
        currency="USD",
        milestones=tuple(
            commands.NewMilestone(
                title=f"{TITLES[i % len(TITLES)]} {i + 1}",
                description=f"Milestone {i + 1} of contract {contract_id}.",
                amount=rng.randint(10, 2_000) * 100,
            )
            for i in range(MILESTONES_PER_CONTRACT)
        ),
    )
    contract = Contract.offer(offer, client_id=client_id, policy=policy, now=created_at)
    contract.id = contract_id
    for milestone in contract.milestones:
        milestone.id = ids.take("milestone")
    play = Play(contract, rng, ids)
    play.step()
    play.play()
    play.rows(rows)
