"""Contracts driven through the services to a given point, and the rows each step wrote.

`Deal` is one contract between the client and the freelancer of the `people` fixture, with a
method per use case (each call is one service call, as the named party unless `by=` says
otherwise). `Watch` reads the events and ledger entries written since it started, so a test
can assert exactly what one step emitted. `refused` awaits a step that must be refused and
returns its problems as (code, field) pairs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from app.db import models
from app.domain import commands
from app.domain.commands import NewMilestone
from app.domain.errors import DomainError, ErrorCode
from app.domain.errors import Problem as DomainProblem
from app.domain.money import parse_amount, read_amount
from app.domain.permissions import Actor
from app.domain.requests import ChangeAction, MilestoneChange
from app.services import contracts, requests
from app.services.runtime import Runtime
from app.services.unit import Outcome
from tests.domain.builders import typed
from tests.services.books import check_books, snapshot

Event = tuple[str, int | None, int | None, int | None]  # type, actor id, milestone id, cents
Entry = tuple[str, int, int | None]  # kind, cents, milestone id
Problem = tuple[ErrorCode, tuple[str, ...] | None]


def cents(text: str) -> int:
    return parse_amount(text)


def maybe_cents(text: str | None) -> int | None:
    """An amount the client typed, read as the GraphQL edge reads it."""
    return read_amount(text) if text is not None else None


def typed_amount(name: str, text: str | None) -> dict[str, Any]:
    """A command's keywords for an amount field the client typed, as the GraphQL edge reads
    it: the cents, or for text it cannot read a placeholder and the problem in `rejected`."""
    if text is None:
        return {}
    try:
        return {name: read_amount(text, (name,))}
    except DomainError as error:
        return {name: 0, "rejected": error.problems}


def _read(more: dict[str, Any]) -> dict[str, Any]:
    """Milestone fields with their amounts (`amount`, `unit_price`) given as text, read."""
    return {k: maybe_cents(v) if k in ("amount", "unit_price") else v for k, v in more.items()}


def fixed(amount: str = "100.00", title: str = "Work") -> NewMilestone:
    return NewMilestone(title=title, amount=read_amount(amount))


def piece(unit_price: str, max_units: int, title: str = "Units", **more: Any) -> NewMilestone:
    return NewMilestone(
        title=title, unit_price=read_amount(unit_price), max_units=max_units, **_read(more)
    )


@dataclass(frozen=True)
class Typed:
    """A change as the client typed it, its amounts as text: `Deal.propose` reads it as the
    GraphQL edge does."""

    values: dict[str, Any]

    def read(self, path: tuple[str, ...], rejected: list[DomainProblem]) -> MilestoneChange:
        return typed(MilestoneChange, path, rejected, **self.values)


def add(title: str = "Added", amount: str | None = "30.00", **more: Any) -> Typed:
    return Typed({"action": ChangeAction.ADD, "title": title, "amount": amount, **more})


def update(milestone_id: int, **more: Any) -> Typed:
    return Typed({"action": ChangeAction.UPDATE, "milestone_id": milestone_id, **more})


def delete(milestone_id: int) -> MilestoneChange:
    return MilestoneChange(action=ChangeAction.DELETE, milestone_id=milestone_id)


def move(milestone_id: int, position: int) -> MilestoneChange:
    return MilestoneChange(action=ChangeAction.MOVE, milestone_id=milestone_id, position=position)


async def refused(step: Awaitable[object]) -> list[Problem]:
    """The problems of a step that must be refused."""
    with pytest.raises(DomainError) as caught:
        await step
    return [(p.code, p.field) for p in caught.value.problems]


async def events_of(contract_id: int, after: int = 0) -> list[Event]:
    rows = (
        await models.ContractEvent.filter(contract_id=contract_id, sequence__gt=after)
        .order_by("sequence")
        .values_list("type", "actor_id", "milestone_id", "amount")
    )
    return [tuple(row) for row in rows]


async def entries_of(contract_id: int, after: int = 0) -> list[Entry]:
    rows = (
        await models.LedgerEntry.filter(contract_id=contract_id, id__gt=after)
        .order_by("id")
        .values_list("kind", "amount", "milestone_id")
    )
    return [tuple(row) for row in rows]


async def milestone(milestone_id: int) -> models.Milestone:
    return await models.Milestone.get(id=milestone_id)


async def books_ok(runtime: Runtime) -> None:
    """Every ledger and state invariant of tests/services/books.py holds for the database."""
    check_books(await snapshot(), runtime.policy)


@dataclass
class Watch:
    """What a contract stored after the moment the watch started."""

    contract_id: int
    sequence: int
    entry_id: int

    @classmethod
    async def start(cls, contract_id: int) -> Watch:
        contract = await models.Contract.get(id=contract_id)
        last = await models.LedgerEntry.all().order_by("-id").first()
        return cls(contract_id, contract.last_sequence, last.id if last else 0)

    async def events(self) -> list[Event]:
        return await events_of(self.contract_id, self.sequence)

    async def entries(self) -> list[Entry]:
        """The new entries, sorted: the order of entries within one step is free."""
        return sorted(await entries_of(self.contract_id, self.entry_id), key=repr)


def ledger(*expected: Entry) -> list[Entry]:
    return sorted(expected, key=repr)


@dataclass
class Deal:
    """A contract and its milestones (ids by position at creation), driven by its parties."""

    runtime: Runtime
    id: int
    ids: list[int]
    client: Actor
    freelancer: Actor

    @classmethod
    async def offer(
        cls, runtime: Runtime, client: Actor, freelancer: Actor, *drafts: NewMilestone
    ) -> Deal:
        command = commands.CreateContract(
            freelancer_id=freelancer.user_id,
            title="Website",
            milestones=drafts or (fixed("100.00", "One"), fixed("50.00", "Two")),
        )
        outcome = await contracts.create_contract(runtime, client, command)
        assert outcome.contract_id is not None
        rows = await models.Milestone.filter(contract_id=outcome.contract_id).order_by("position")
        return cls(runtime, outcome.contract_id, [m.id for m in rows], client, freelancer)

    @classmethod
    async def active(
        cls, runtime: Runtime, client: Actor, freelancer: Actor, *drafts: NewMilestone
    ) -> Deal:
        deal = await cls.offer(runtime, client, freelancer, *drafts)
        await contracts.accept_contract(
            runtime, freelancer, commands.AcceptContract(contract_id=deal.id)
        )
        return deal

    # --- the lifecycle -------------------------------------------------------------------

    async def fund(self, index: int = 0, *, by: Actor | None = None) -> Outcome:
        command = commands.FundMilestone(milestone_id=self.ids[index])
        return await contracts.fund_milestone(self.runtime, by or self.client, command)

    async def submit(
        self,
        index: int = 0,
        *,
        requested: str | None = None,
        units: int | None = None,
        by: Actor | None = None,
    ) -> Outcome:
        command = commands.SubmitMilestone(
            milestone_id=self.ids[index],
            message="Done",
            requested_amount=maybe_cents(requested),
            units=units,
        )
        return await contracts.submit_milestone(self.runtime, by or self.freelancer, command)

    async def revise(self, index: int = 0, *, by: Actor | None = None) -> Outcome:
        command = commands.RequestRevision(milestone_id=self.ids[index], message="Please fix")
        return await contracts.request_revision(self.runtime, by or self.client, command)

    async def release(
        self,
        index: int = 0,
        *,
        amount: str | None = None,
        end: bool = False,
        by: Actor | None = None,
    ) -> Outcome:
        command = commands.ReleaseMilestone(
            milestone_id=self.ids[index], amount=maybe_cents(amount), end_contract=end
        )
        return await contracts.release_milestone(self.runtime, by or self.client, command)

    async def complete(self, index: int = 0, *, by: Actor | None = None) -> Outcome:
        command = commands.CompleteMilestone(milestone_id=self.ids[index])
        return await contracts.complete_milestone(self.runtime, by or self.client, command)

    async def end(self, *, by: Actor | None = None) -> Outcome:
        command = commands.EndContract(contract_id=self.id)
        return await contracts.end_contract(self.runtime, by or self.client, command)

    # --- refunds and disputes -----------------------------------------------------------

    async def request_refund(
        self,
        index: int = 0,
        *,
        amount: str | None = None,
        reason: str | None = "Not needed",
        by: Actor | None = None,
    ) -> int:
        command = commands.RequestRefund(
            milestone_id=self.ids[index], amount=maybe_cents(amount), reason=reason
        )
        outcome = await requests.request_refund(self.runtime, by or self.client, command)
        assert outcome.refund_request_id is not None
        return outcome.refund_request_id

    async def answer_refund(
        self, refund_id: int, *, approve: bool, by: Actor | None = None
    ) -> Outcome:
        command = commands.RespondToRefundRequest(
            refund_request_id=refund_id, approve=approve, message="Answer"
        )
        return await requests.answer_refund(self.runtime, by or self.freelancer, command)

    async def open_dispute(self, index: int = 0, *, by: Actor | None = None) -> int:
        command = commands.OpenDispute(milestone_id=self.ids[index], reason="We disagree")
        outcome = await requests.open_dispute(self.runtime, by or self.client, command)
        assert outcome.dispute_id is not None
        return outcome.dispute_id

    async def withdraw_dispute(self, dispute_id: int, *, by: Actor | None = None) -> Outcome:
        command = commands.WithdrawDispute(dispute_id=dispute_id)
        return await requests.withdraw_dispute(self.runtime, by or self.client, command)

    # --- change requests ----------------------------------------------------------------

    async def propose(
        self, *changes: MilestoneChange | Typed, by: Actor | None = None, message: str | None = None
    ) -> int:
        rejected: list[DomainProblem] = []
        read = tuple(
            c.read(("changes", str(i)), rejected) if isinstance(c, Typed) else c
            for i, c in enumerate(changes)
        )
        command = commands.ProposeMilestoneChanges(
            contract_id=self.id, message=message, changes=read, rejected=tuple(rejected)
        )
        outcome = await requests.propose_changes(self.runtime, by or self.client, command)
        assert outcome.change_request_id is not None
        return outcome.change_request_id

    async def accept_changes(self, request_id: int, *, by: Actor | None = None) -> Outcome:
        command = commands.AcceptChangeRequest(change_request_id=request_id)
        return await requests.accept_change_request(self.runtime, by or self.freelancer, command)

    async def decline_changes(self, request_id: int, *, by: Actor | None = None) -> Outcome:
        command = commands.DeclineChangeRequest(change_request_id=request_id, reason="No")
        return await requests.decline_change_request(self.runtime, by or self.freelancer, command)

    async def withdraw_changes(self, request_id: int, *, by: Actor | None = None) -> Outcome:
        command = commands.WithdrawChangeRequest(change_request_id=request_id)
        return await requests.withdraw_change_request(self.runtime, by or self.client, command)

    # --- reading ------------------------------------------------------------------------

    async def milestone(self, index: int) -> models.Milestone:
        return await milestone(self.ids[index])

    async def plan(self) -> list[tuple[str, int]]:
        """The live milestones as (title, amount in cents), by position; checks 1..n."""
        rows = await models.Milestone.filter(contract_id=self.id, deleted=False).order_by(
            "position"
        )
        assert [m.position for m in rows] == list(range(1, len(rows) + 1)), rows
        return [(m.title, m.amount) for m in rows]

    async def statuses(self) -> list[str]:
        rows = await models.Milestone.filter(contract_id=self.id, deleted=False).order_by(
            "position"
        )
        return [m.status for m in rows]

    async def watch(self) -> Watch:
        return await Watch.start(self.id)

    async def available(self) -> int:
        """Escrow held for the contract but allocated to no active milestone."""
        entries = await entries_of(self.id)
        held = sum(
            {"FUNDING": a, "RELEASE": -a, "REFUND": -a}.get(kind, 0) for kind, a, _ in entries
        )
        rows = await models.Milestone.filter(contract_id=self.id, deleted=False)
        allocated = sum(
            m.funded_amount - m.released_amount - m.refunded_amount
            for m in rows
            if m.status in ("FUNDED", "SUBMITTED", "REVISION_REQUESTED", "DISPUTED")
        )
        return int(held - allocated)


def titles(plan: Sequence[tuple[str, int]]) -> list[str]:
    return [title for title, _ in plan]
