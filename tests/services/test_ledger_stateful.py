"""Random sequences of use cases keep the books right (docs/concepts.md,
docs/concepts.md#the-ledger, docs/rules.md#milestones, docs/rules.md#idempotency-keys,
§6.33-6.35).

A Hypothesis state machine creates contracts (fixed-price and piece-rate milestones) and drives
them through the services: accept, decline, end, fund, submit (with units), request a revision,
release any amount, complete a piece-rate milestone, pay a bonus; propose batches of milestone
changes and accept, decline or withdraw them; request refunds and answer them; open, withdraw
and resolve disputes (an admin's split). Each step is taken by the party whose turn it is, the
other party, an outsider or an admin, with valid and invalid inputs, with and without
idempotency keys, while the clock moves and the deadline job runs or not. Refusals are
expected; after every step the whole database is read back and checked:

- per contract: totalFunded = totalReleased + totalRefunded + held; held and available are
  never negative; the ESCROW account's balance is held; all balances sum to zero; every
  milestone's escrow is funded >= released + refunded and matches its entries; fees match
  the charges and payouts they belong to; events are numbered 1..n; an ended or declined
  contract holds nothing, and a declined or withdrawn offer gave every cent back; pending
  refunds, open disputes and pending change requests are consistent with the milestones
  (tests/services/books.py);
- a refused action changed nothing (a refusal under an idempotency key only stores the key),
  apart from deadlines that had passed (§6.33);
- a successful step moved exactly the money it should have, and an idempotent retry none;
- every request that settled in a step settled as the rules say: an approved refund's amount
  is one REFUND entry (and the rest of a fixed-price milestone one RELEASE), a resolved
  dispute's parts are a REFUND and a RELEASE, a declined refund or withdrawn dispute gives the
  review clock back the time that was left, an accepted change request leaves exactly the plan
  that its changes describe, applied in order to the milestones of that moment;
- where the inputs and the state decide the answer, the answer is the one the rules give
  (e.g. a pending refund blocks a submission with REFUND_PENDING).

The machine's rules are synchronous (Hypothesis drives them), and the services run on the
session event loop that the database lives on: between tests pytest-asyncio's runner is idle,
so a synchronous test may run coroutines on that loop with `run_until_complete`.

A failure is shrunk to a short program of steps, printed with what each step returned; the
shrinking replays the database steps and may take Hypothesis's five-minute shrink budget.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from tortoise.contrib.test import truncate_all_models

from app.db import models
from app.domain import commands
from app.domain.commands import NewMilestone
from app.domain.errors import DomainError, ErrorCode, Problem
from app.domain.events import EventType
from app.domain.ledger import EntryKind
from app.domain.milestones import MilestoneStatus
from app.domain.money import format_amount, parse_amount
from app.domain.permissions import Action, Actor, ContractStatus
from app.domain.policy import Policy
from app.domain.requests import (
    ChangeAction,
    ChangeRequestStatus,
    DisputeStatus,
    MilestoneChange,
    RefundStatus,
)
from app.services import contracts as services
from app.services import deadlines
from app.services import requests as asks
from app.services.unit import Outcome
from tests.domain.builders import typed
from tests.services.books import FINAL, MilestoneRow, Snapshot, check_books, snapshot
from tests.services.flows import typed_amount
from tests.support import FrozenClock, make_runtime

T = TypeVar("T")

ROLES = ("client", "freelancer", "outsider", "admin")
GATES = (ErrorCode.NOT_FOUND, ErrorCode.NOT_PERMITTED)
INPUT_CODES = (ErrorCode.INVALID_INPUT, ErrorCode.INVALID_AMOUNT, ErrorCode.AMOUNT_TOO_SMALL)
WORKING = (MilestoneStatus.FUNDED, MilestoneStatus.SUBMITTED, MilestoneStatus.REVISION_REQUESTED)
UNREVIEWED = (MilestoneStatus.FUNDED, MilestoneStatus.REVISION_REQUESTED)


def actors(role: str) -> st.SearchStrategy[str]:
    """Mostly the party whose turn it is, sometimes the other one, an outsider or an admin."""
    return st.sampled_from([role] * 5 + [r for r in ROLES if r != role])


# Who answers a request, relative to who made it ("maker").
answerers = st.sampled_from(["other"] * 5 + ["maker", "outsider", "admin"])
makers = st.sampled_from(["maker"] * 5 + ["other", "outsider", "admin"])
parties = st.sampled_from(["client", "freelancer"] * 3 + ["outsider", "admin"])

cents = st.integers(min_value=1, max_value=200_000).map(format_amount)
valid_milestone_amounts = st.one_of(
    st.sampled_from(["5.00", "100.00", "12.34"]),
    st.integers(min_value=500, max_value=200_000).map(format_amount),
)
milestone_amounts = st.one_of(valid_milestone_amounts, st.just("4.99"))
# A piece-rate milestone as (unitPrice, maxUnits): the product may be below the minimum, and
# maxUnits 0 is invalid.
piece_rates = st.tuples(
    st.sampled_from(["1.00", "2.50", "0.99", "5.00", "12.34"]), st.sampled_from([0, 1, 2, 3, 5])
)
valid_piece_rates = st.tuples(
    st.sampled_from(["2.50", "5.00", "12.34"]), st.sampled_from([2, 3, 5])
)
Spec = str | tuple[str, int]  # a milestone at creation: a fixed amount, or a piece rate
valid_specs: st.SearchStrategy[Spec] = st.one_of(
    valid_milestone_amounts, valid_milestone_amounts, valid_piece_rates
)
specs: st.SearchStrategy[Spec] = st.one_of(milestone_amounts, milestone_amounts, piece_rates)
# "~name": an amount relative to the milestone at the time of the step (`LedgerMachine.amount`).
relative = st.sampled_from(["~cent", "~half", "~all", "~more", "~much_more", "~due"])
invalid = st.sampled_from(["0", "-1.00", "1.001", "ten"])
release_amounts = st.one_of(st.none(), relative, cents, invalid)
requested_amounts = st.one_of(st.none(), relative, cents)
refund_amounts = st.one_of(
    st.none(), st.sampled_from(["~cent", "~half", "~all", "~more"]), cents, invalid
)
bonus_amounts = st.one_of(cents, cents, invalid)
# Units of a submission (`LedgerMachine.units`): "fit" and "rest" suit the milestone (none for
# a fixed price; one, or all that remain, for a piece rate); the others are given as they are.
unit_choices = st.sampled_from(["fit", "fit", "rest", "rest", None, "one", "over", "zero"])
keys = st.sampled_from([None, None, "k1", "k2"])
# A dispute's split, relative to the milestone's remaining escrow (`LedgerMachine.split`), or
# a number of cents for the freelancer and the rest for the client.
splits = st.one_of(
    st.sampled_from(
        ["freelancer", "client", "half", "half", "over", "under", "negative", "garbage"]
    ),
    st.integers(min_value=0, max_value=50_000),
)
# One step of the happy path: an amount to ask for or release, endContract, and what the
# parties do next (the client reviews the work, releases without waiting for it, asks for a
# revision or a refund, or a party opens a dispute).
natural_steps = st.tuples(
    requested_amounts,
    st.sampled_from([False, False, False, True]),
    st.sampled_from(["review", "release", "revise", "review", "release", "refund", "dispute"]),
)
milestone_choices = st.sampled_from(["current", "current", "current", 0, 1, 2, 3, "deleted"])

# Change requests: each change as a tuple, turned into a ChangeDraft against the milestones
# of the moment (`LedgerMachine.drafts`); a position "last" is the number of live milestones.
positions = st.sampled_from([None, None, None, "last", "last", 1, 2, 3, 0, 9])
indexes = st.integers(min_value=0, max_value=5)
change_amounts = st.sampled_from(["30.00", "5.00", "12.34", "250.00"] * 3 + ["4.99", "0"])
change_specs = st.one_of(
    st.tuples(
        st.just("ADD"),
        st.sampled_from(["Added"] * 9 + [" "]),
        change_amounts,
        positions,
        st.one_of(
            st.none(), st.none(), st.one_of(valid_piece_rates, valid_piece_rates, piece_rates)
        ),
    ),
    st.tuples(
        st.just("UPDATE"),
        indexes,
        st.one_of(change_amounts, change_amounts, st.none()),
        st.sampled_from([None, None, "Renamed", "Renamed", "Renamed", " "]),
    ),
    st.tuples(st.just("DELETE"), indexes),
    st.tuples(
        st.just("MOVE"), indexes, st.sampled_from(["last", "last", "last", 1, 2, 3, 0, 9, None])
    ),
)
# Mostly one to three changes, sometimes none (INVALID_INPUT).
batches = st.tuples(
    st.sampled_from([True] * 7 + [False]), st.lists(change_specs, min_size=1, max_size=3)
).map(lambda drawn: drawn[1] if drawn[0] else [])


@dataclass(frozen=True)
class MilestoneDraft:
    """A new milestone as the client types it, amounts as text (the model works on text)."""

    title: str
    amount: str | None = None
    unit_price: str | None = None
    max_units: int | None = None


@dataclass(frozen=True)
class ChangeDraft:
    """A proposed change as the client types it, amounts as text."""

    action: ChangeAction
    milestone_id: int | None = None
    title: str | None = None
    amount: str | None = None
    position: int | None = None
    unit_price: str | None = None
    max_units: int | None = None


def read_drafts(
    drafts: Sequence[MilestoneDraft | ChangeDraft], path: str, record: type[Any]
) -> tuple[tuple[Any, ...], tuple[Problem, ...]]:
    """The drafts as the GraphQL edge reads them: the records, and what it refused."""
    rejected: list[Problem] = []
    read = tuple(
        typed(record, (path, str(i)), rejected, **dataclasses.asdict(d))
        for i, d in enumerate(drafts)
    )
    return read, tuple(rejected)


@dataclass(frozen=True)
class Key:
    """An idempotency key as the service scopes it (user, action, key), and the request it
    came with."""

    id: tuple[int, str, str]
    request: dict[str, Any]

    @classmethod
    def of(
        cls, actor: Actor, action: Action, key: str | None, request: dict[str, Any]
    ) -> Key | None:
        return cls((actor.user_id, action.value, key), request) if key is not None else None


@dataclass(frozen=True)
class Planned:
    """A milestone in a change plan: its id (None for one added), title and amount."""

    id: int | None
    status: MilestoneStatus
    title: str
    amount: int
    piece_rate: bool


def parses(text: str | None, *, allow_zero: bool = False) -> bool:
    if text is None:
        return True
    try:
        parse_amount(text, allow_zero=allow_zero)
    except DomainError:
        return False
    return True


def spec_amount(spec: Spec) -> int | None:
    """A milestone's amount in cents, or None when its fields are invalid (§6.7, §6.15)."""
    if isinstance(spec, str):
        return parse_amount(spec) if parses(spec) else None
    unit_price, max_units = spec
    return parse_amount(unit_price) * max_units if max_units >= 1 else None


def draft_of(spec: Spec, title: str) -> MilestoneDraft:
    if isinstance(spec, str):
        return MilestoneDraft(title=title, amount=spec)
    return MilestoneDraft(title=title, unit_price=spec[0], max_units=spec[1])


def inputs_valid(drafts: Sequence[ChangeDraft], policy: Policy) -> bool:
    """Whether every change is valid on its own (checked before the state, §6.31)."""
    if not drafts:
        return False
    for d in drafts:
        title_ok = d.title is None or bool(d.title.strip())
        if d.action is ChangeAction.ADD:
            if d.title is None or not title_ok:
                return False
            spec: Spec = (d.unit_price, d.max_units or 0) if d.unit_price else (d.amount or "")
            amount = spec_amount(spec)
            if amount is None or amount < policy.minimum_milestone_amount:
                return False
        elif d.action is ChangeAction.UPDATE:
            if (d.title is None and d.amount is None) or not title_ok or not parses(d.amount):
                return False
        elif d.action is ChangeAction.MOVE and d.position is None:
            return False
    return True


def position_problem(position: int, locked: int, last: int) -> ErrorCode | None:
    if 1 <= position <= locked:
        return ErrorCode.MILESTONE_NOT_EDITABLE
    if not 1 <= position <= last:
        return ErrorCode.INVALID_INPUT
    return None


def apply_plan(
    milestones: Sequence[MilestoneRow], drafts: Sequence[ChangeDraft], policy: Policy
) -> list[Planned] | ErrorCode:
    """The milestones after the changes, applied in order (§6.17), or the refusal of the first
    change that cannot apply. A model of the rules, independent of app/domain/changes.py."""
    plan = [Planned(m.id, m.status, m.title, m.amount, m.is_piece_rate) for m in milestones]
    first: ErrorCode | None = None
    for d in drafts:
        locked = max(
            (i + 1 for i, p in enumerate(plan) if p.status is not MilestoneStatus.NOT_FUNDED),
            default=0,
        )
        problem: ErrorCode | None = None
        index = next((i for i, p in enumerate(plan) if p.id == d.milestone_id), None)
        if d.action is ChangeAction.ADD:
            position = d.position if d.position is not None else len(plan) + 1
            problem = position_problem(position, locked, len(plan) + 1)
            if problem is None:
                assert d.title is not None
                spec: Spec = (d.unit_price, d.max_units or 0) if d.unit_price else (d.amount or "")
                amount = spec_amount(spec)
                assert amount is not None
                added = Planned(
                    None, MilestoneStatus.NOT_FUNDED, d.title.strip(), amount, bool(d.unit_price)
                )
                plan.insert(position - 1, added)
        elif index is None:
            problem = ErrorCode.NOT_FOUND
        elif plan[index].status is not MilestoneStatus.NOT_FUNDED:
            problem = ErrorCode.MILESTONE_NOT_EDITABLE
        elif d.action is ChangeAction.DELETE:
            plan.pop(index)
        elif d.action is ChangeAction.MOVE:
            assert d.position is not None
            problem = position_problem(d.position, locked, len(plan))
            if problem is None:
                plan.insert(d.position - 1, plan.pop(index))
        else:
            target = plan[index]
            if d.amount is not None and target.piece_rate:
                problem = ErrorCode.INVALID_INPUT
            else:
                amount = parse_amount(d.amount) if d.amount is not None else target.amount
                if amount < policy.minimum_milestone_amount:
                    problem = ErrorCode.AMOUNT_TOO_SMALL
                else:
                    title = d.title.strip() if d.title is not None else target.title
                    plan[index] = dataclasses.replace(target, title=title, amount=amount)
        first = first or problem
    return first if first is not None else plan


def is_gate(problem: Problem) -> bool:
    """A refusal for visibility or permission (§6.31); NOT_FOUND inside a change batch is not."""
    return problem.code in GATES and (problem.field is None or len(problem.field) <= 1)


def contains(events: Sequence[tuple[Any, ...]], expected: Sequence[tuple[Any, ...]]) -> bool:
    """Whether `expected` occurs in `events` as a contiguous run, in order."""
    n = len(expected)
    return any(list(events[i : i + n]) == list(expected) for i in range(len(events) - n + 1))


class LedgerMachine(RuleBasedStateMachine):
    contracts = Bundle("contracts")
    refunds = Bundle("refunds")
    disputes = Bundle("disputes")
    change_requests = Bundle("change_requests")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop
        self.clock = FrozenClock()
        self.runtime = make_runtime(self.clock)
        self.policy = self.runtime.policy
        self.run(truncate_all_models())
        self.people = [
            self.run(models.User.create(name=name, email=f"{name}@example.com", password_hash="-"))
            for name in ("ann", "ben", "cat")
        ]
        self.admin = self.run(
            models.User.create(
                name="ada", email="ada@example.com", password_hash="-", is_admin=True
            )
        )
        # What each idempotency key was first used for: (user, mutation, key) -> request, outcome.
        self.keys: dict[tuple[int, str, str], tuple[dict[str, Any], Outcome, datetime]] = {}
        # The changes of each change request as proposed, to model their effect on accept.
        self.proposals: dict[int, list[ChangeDraft]] = {}
        # Review time left when a refund request or a dispute stopped the clock, by request.
        self.paused: dict[tuple[str, int], timedelta | None] = {}
        self.books = self.run(snapshot())
        self.fresh = True  # `books` was read from the database since the last check
        # The last attempt: the code it was refused with (None: done), and whether it replayed.
        self.refusal: ErrorCode | None = None
        self.replayed = False

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    # --- the contract's life ----------------------------------------------------------------

    @initialize(target=contracts, specs=st.lists(valid_specs, min_size=1, max_size=4))
    def first_contract(self, specs: list[Spec]) -> object:
        """An active contract with its first milestone funded: where most rules have work."""
        contract = self.create((0, 1), specs, then_accept=True)
        self.fund(contract, "client", "current", None)
        return contract

    @initialize(target=contracts, specs=st.lists(valid_specs, min_size=1, max_size=4))
    def second_contract(self, specs: list[Spec]) -> object:
        return self.create((1, 2), specs, then_accept=False)

    @rule(
        target=contracts,
        parties=st.sampled_from([(0, 1), (1, 2), (2, 0), (1, 0), (0, 1), (1, 2), (0, 0)]),
        specs=st.tuples(
            st.sampled_from([True] * 7 + [False]), st.lists(specs, min_size=1, max_size=4)
        ).map(lambda drawn: drawn[1] if drawn[0] else []),
        then_accept=st.booleans(),
    )
    def create(self, parties: tuple[int, int], specs: list[Spec], then_accept: bool) -> object:
        """A new offer, accepted at once by its freelancer or not."""
        client, freelancer = parties
        amounts = [spec_amount(s) for s in specs]
        valid = (
            client != freelancer
            and bool(specs)
            and all(a is not None and a >= self.policy.minimum_milestone_amount for a in amounts)
        )
        drafts = [draft_of(spec, f"Step {i}") for i, spec in enumerate(specs)]
        offered, rejected = read_drafts(drafts, "milestones", NewMilestone)
        command = commands.CreateContract(
            freelancer_id=self.people[freelancer].id,
            title="Work",
            milestones=offered,
            rejected=rejected,
        )
        call = services.create_contract(self.runtime, Actor(self.people[client].id), command)
        outcome = self.attempt(call, contract=None, gate=None)
        assert (outcome is not None) == valid, (outcome, specs)
        if outcome is None:
            return multiple()
        contract_id = outcome.contract_id
        assert contract_id is not None
        assert self.books.contracts[contract_id].status is ContractStatus.OFFERED
        milestones = self.books.milestones_of(contract_id)
        assert [m.amount for m in milestones] == amounts
        assert [m.unit_price for m in milestones] == [
            None if isinstance(s, str) else parse_amount(s[0]) for s in specs
        ]
        assert [m.max_units for m in milestones] == [
            None if isinstance(s, str) else s[1] for s in specs
        ]
        assert not self.books.entries_of(contract_id)
        if then_accept:
            self.accept(contract_id, "freelancer")
        return contract_id

    @rule(contract=contracts, who=actors("freelancer"))
    def accept(self, contract: int, who: str) -> None:
        actor = self.actor(contract, who)
        gate = self.gate(who, "freelancer")
        call = services.accept_contract(
            self.runtime, actor, commands.AcceptContract(contract_id=contract)
        )
        if self.attempt(call, contract=contract, gate=gate):
            self.expect_status(contract, ContractStatus.ACTIVE)

    @rule(contract=contracts, who=actors("freelancer"))
    def decline(self, contract: int, who: str) -> None:
        actor = self.actor(contract, who)
        gate = self.gate(who, "freelancer")
        decline = commands.DeclineContract(contract_id=contract, reason="no thanks")
        call = services.decline_contract(self.runtime, actor, decline)
        if self.attempt(call, contract=contract, gate=gate):
            self.expect_status(contract, ContractStatus.DECLINED)

    @rule(contract=contracts, who=actors("client"))
    def end(self, contract: int, who: str) -> None:
        actor = self.actor(contract, who)
        status = self.books.contracts[contract].status
        gate = self.gate(who, "client" if status is ContractStatus.OFFERED else None)
        call = services.end_contract(
            self.runtime, actor, commands.EndContract(contract_id=contract)
        )
        if self.attempt(call, contract=contract, gate=gate):
            self.expect_status(contract, ContractStatus.ENDED)

    @rule(contract=contracts, who=actors("client"), which=milestone_choices, key=keys)
    def fund(self, contract: int, who: str, which: str | int, key: str | None) -> None:
        actor = self.actor(contract, who)
        milestone = self.milestone(contract, which)
        before = self.books
        fund = commands.FundMilestone(milestone_id=milestone, idempotency_key=key)
        call = services.fund_milestone(self.runtime, actor, fund)
        idempotency = Key.of(actor, Action.FUND, key, {"milestone_id": milestone})
        gate = self.gate(who, "client", milestone)
        outcome = self.attempt(call, contract=contract, gate=gate, key=idempotency)
        if outcome is None or not self.settled(before, contract):
            return
        m_before, m_after = before.milestones[milestone], self.books.milestones[milestone]
        assert m_after.status is MilestoneStatus.FUNDED, m_after
        assert m_after.funded == m_before.amount, m_after
        charged = max(0, m_before.amount - before.available(contract))
        assert self.delta(before, contract, EntryKind.FUNDING) == charged

    @rule(
        contract=contracts,
        who=actors("freelancer"),
        which=milestone_choices,
        amount=requested_amounts,
        units=unit_choices,
    )
    def submit(
        self, contract: int, who: str, which: str | int, amount: str | None, units: str | None
    ) -> None:
        actor = self.actor(contract, who)
        milestone = self.milestone(contract, which)
        before = self.books
        m = before.milestones[milestone]
        count = self.units(units, m)
        due = (count or 0) * (m.unit_price or 0)
        if amount == "~due" and m.is_piece_rate:
            text: str | None = format_amount(due) if due else "1.00"
        else:
            text = self.amount(amount, contract, milestone)
        submission = commands.SubmitMilestone(
            milestone_id=milestone,
            message="done",
            attachments=("https://example.com/work.zip",),
            units=count,
            **typed_amount("requested_amount", text),
        )
        call = services.submit_milestone(self.runtime, actor, submission)
        gate = self.gate(who, "freelancer", milestone)
        outcome = self.attempt(call, contract=contract, gate=gate)
        if gate is None and self.settled(before, contract):
            # §6.15, §6.31, §1: input first, then the state; a pending refund blocks it.
            left = (m.max_units or 0) - m.units_released
            if m.is_piece_rate:
                valid = count is not None and 1 <= count <= left
                valid = valid and (text is None or parse_amount(text) == due)
            else:
                valid = count is None
            if not valid:
                assert self.refusal in INPUT_CODES, self.refusal
            else:
                self.expect(
                    self.state_problem(before, contract, m, UNREVIEWED)
                    or (ErrorCode.REFUND_PENDING if before.pending_refund(milestone) else None)
                )
        if outcome is None or not self.settled(before, contract):
            return
        after = self.books.milestones[milestone]
        assert after.status is MilestoneStatus.SUBMITTED
        assert after.auto_release_at == self.clock() + self.policy.auto_release_after, after
        assert self.books.entries == before.entries
        new = set(self.books.submissions) - set(before.submissions)
        assert len(new) == 1, new
        _, status, requested, submitted_units = self.books.submissions[new.pop()]
        assert status == "PENDING" and submitted_units == count
        if m.is_piece_rate:
            assert requested == due
        else:
            assert requested == (parse_amount(text) if text is not None else m.funded)

    @rule(contract=contracts, who=actors("client"), which=milestone_choices)
    def request_revision(self, contract: int, who: str, which: str | int) -> None:
        actor = self.actor(contract, who)
        milestone = self.milestone(contract, which)
        before = self.books
        revise = commands.RequestRevision(milestone_id=milestone, message="again")
        call = services.request_revision(self.runtime, actor, revise)
        gate = self.gate(who, "client", milestone)
        if self.attempt(call, contract=contract, gate=gate) is None:
            return
        if self.settled(before, contract):
            status = self.books.milestones[milestone].status
            assert status is MilestoneStatus.REVISION_REQUESTED
            assert self.books.entries == before.entries

    @rule(
        contract=contracts,
        who=actors("client"),
        which=milestone_choices,
        amount=release_amounts,
        end_contract=st.sampled_from([False, False, True]),
        key=keys,
    )
    def release(
        self,
        contract: int,
        who: str,
        which: str | int,
        amount: str | None,
        end_contract: bool,
        key: str | None,
    ) -> None:
        actor = self.actor(contract, who)
        milestone = self.milestone(contract, which)
        before = self.books
        text = self.amount(amount, contract, milestone)
        release = commands.ReleaseMilestone(
            milestone_id=milestone,
            end_contract=end_contract,
            idempotency_key=key,
            **typed_amount("amount", text),
        )
        call = services.release_milestone(self.runtime, actor, release)
        request = {"milestone_id": milestone, "amount": text, "end_contract": end_contract}
        idempotency = Key.of(actor, Action.RELEASE, key, request)
        gate = self.gate(who, "client", milestone)
        outcome = self.attempt(call, contract=contract, gate=gate, key=idempotency)
        m_before = before.milestones[milestone]
        submission = self.pending_submission(before, milestone)
        if (
            gate is None
            and self.settled(before, contract)
            and m_before.is_piece_rate
            and parses(text)
            and not end_contract
        ):
            # §6.35: a piece-rate release needs the milestone SUBMITTED, and its amount, if
            # given, must be the submitted units' price.
            state = self.state_problem(before, contract, m_before, WORKING)
            if state or m_before.status is not MilestoneStatus.SUBMITTED:
                self.expect(ErrorCode.INVALID_STATE)
            elif text is not None and submission is not None:
                right = parse_amount(text) == submission[1]
                self.expect(None if right else ErrorCode.INVALID_AMOUNT)
        if outcome is None or not self.settled(before, contract):
            return
        m_after = self.books.milestones[milestone]
        value = (
            parse_amount(text) if text is not None else self.default_release(before, m_before.id)
        )
        assert m_after.released - m_before.released == value, (m_before, m_after)
        assert self.delta(before, contract, EntryKind.RELEASE) == value
        short = max(0, value - m_before.remaining)
        charged = max(0, short - before.available(contract))
        assert self.delta(before, contract, EntryKind.FUNDING) == charged
        if m_before.is_piece_rate:
            assert submission is not None and value == submission[1], (submission, value)
            units = m_before.units_released + submission[2]
            assert m_after.units_released == units, m_after
            done = units == m_before.max_units
            assert m_after.status is (
                MilestoneStatus.RELEASED if done else MilestoneStatus.FUNDED
            ), m_after
        else:
            assert m_after.status is MilestoneStatus.RELEASED, m_after
        assert self.books.pending_refund(milestone) is None
        expected = ContractStatus.ENDED if end_contract else ContractStatus.ACTIVE
        self.expect_status(contract, expected)

    @rule(contract=contracts, who=actors("client"), which=milestone_choices)
    def complete(self, contract: int, who: str, which: str | int) -> None:
        actor = self.actor(contract, who)
        milestone = self.milestone(contract, which)
        before = self.books
        complete = commands.CompleteMilestone(milestone_id=milestone)
        call = services.complete_milestone(self.runtime, actor, complete)
        gate = self.gate(who, "client", milestone)
        outcome = self.attempt(call, contract=contract, gate=gate)
        m_before = before.milestones[milestone]
        if gate is None and self.settled(before, contract):
            # §6.15: piece-rate only, and not while units await review.
            state = self.state_problem(before, contract, m_before, UNREVIEWED)
            self.expect(state or (None if m_before.is_piece_rate else ErrorCode.INVALID_STATE))
        if outcome is None or not self.settled(before, contract):
            return
        m_after = self.books.milestones[milestone]
        # §6.35: RELEASED if a unit was paid, else CANCELLED; the rest becomes available.
        paid = m_before.units_released > 0
        assert m_after.status is (
            MilestoneStatus.RELEASED if paid else MilestoneStatus.CANCELLED
        ), m_after
        assert (m_after.funded, m_after.released, m_after.refunded) == (
            m_before.funded,
            m_before.released,
            m_before.refunded,
        )
        assert self.books.entries == before.entries
        assert self.books.available(contract) == before.available(contract) + m_before.remaining
        assert self.books.pending_refund(milestone) is None

    @rule(contract=contracts, who=actors("client"), amount=bonus_amounts, key=keys)
    def pay_bonus(self, contract: int, who: str, amount: str, key: str | None) -> None:
        actor = self.actor(contract, who)
        before = self.books
        bonus = commands.PayBonus(
            contract_id=contract,
            note="thanks",
            idempotency_key=key,
            **typed_amount("amount", amount),
        )
        call = services.pay_bonus(self.runtime, actor, bonus)
        request = {"contract_id": contract, "amount": amount, "note": "thanks"}
        idempotency = Key.of(actor, Action.PAY_BONUS, key, request)
        gate = self.gate(who, "client")
        outcome = self.attempt(call, contract=contract, gate=gate, key=idempotency)
        if outcome is None or not self.settled(before, contract):
            return
        assert self.delta(before, contract, EntryKind.BONUS) == parse_amount(amount)
        assert self.books.totals(contract).held == before.totals(contract).held

    # --- refunds (§1, §6.12-6.14, §6.33-6.35) ------------------------------------------------

    @rule(
        target=refunds,
        contract=contracts,
        who=actors("client"),
        which=milestone_choices,
        amount=refund_amounts,
    )
    def request_refund(
        self, contract: int, who: str, which: str | int, amount: str | None
    ) -> object:
        actor = self.actor(contract, who)
        milestone = self.milestone(contract, which)
        before = self.books
        text = self.amount(amount, contract, milestone)
        refund = commands.RequestRefund(
            milestone_id=milestone, reason="no need", **typed_amount("amount", text)
        )
        call = asks.request_refund(self.runtime, actor, refund)
        gate = self.gate(who, "client", milestone)
        outcome = self.attempt(call, contract=contract, gate=gate)
        m = before.milestones[milestone]
        settled = self.settled(before, contract)
        if gate is None and settled:
            too_much = parses(text) and text is not None and parse_amount(text) > m.remaining
            self.expect(
                ErrorCode.INVALID_AMOUNT
                if not parses(text)
                else self.state_problem(before, contract, m, WORKING)
                or (ErrorCode.REFUND_PENDING if before.pending_refund(milestone) else None)
                or (ErrorCode.INVALID_AMOUNT if too_much else None)
            )
        if outcome is None:
            return multiple()
        refund_id = outcome.refund_request_id
        assert refund_id is not None and outcome.milestone_id == milestone, outcome
        row = self.books.refunds[refund_id]
        assert row.milestone_id == milestone and row.status is RefundStatus.PENDING, row
        if settled:
            assert row.amount == (parse_amount(text) if text is not None else m.remaining), row
            after = self.books.milestones[milestone]
            assert after.status is m.status and after.auto_release_at is None, after
            assert self.books.entries == before.entries
        return refund_id

    @rule(refund=refunds, who=actors("freelancer"), approve=st.booleans())
    def answer_refund(self, refund: int, who: str, approve: bool) -> None:
        row = self.books.refunds[refund]
        contract = row.contract_id
        actor = self.actor(contract, who)
        before = self.books
        answer = commands.RespondToRefundRequest(
            refund_request_id=refund, approve=approve, message="ok"
        )
        call = asks.answer_refund(self.runtime, actor, answer)
        gate = self.gate(who, "freelancer")
        outcome = self.attempt(call, contract=contract, gate=gate)
        if gate is None and self.settled(before, contract):
            pending = row.status is RefundStatus.PENDING
            self.expect(None if pending else ErrorCode.INVALID_STATE)
        if outcome is None:
            return
        after = self.books.refunds[refund]
        if self.settled(before, contract):
            expected = RefundStatus.APPROVED if approve else RefundStatus.DECLINED
            assert after.status is expected, after
            # The money of either answer is checked with every settled request (`settlements`).

    # --- disputes (§1, §6.13-6.14, §6.16, §6.34) ---------------------------------------------

    @rule(
        target=disputes,
        contract=contracts,
        who=parties,
        which=milestone_choices,
        reason=st.sampled_from(["We disagree", "We disagree", "We disagree", " "]),
    )
    def open_dispute(self, contract: int, who: str, which: str | int, reason: str) -> object:
        actor = self.actor(contract, who)
        milestone = self.milestone(contract, which)
        before = self.books
        opening = commands.OpenDispute(milestone_id=milestone, reason=reason)
        call = asks.open_dispute(self.runtime, actor, opening)
        gate = self.gate(who, None, milestone)
        outcome = self.attempt(call, contract=contract, gate=gate)
        m = before.milestones[milestone]
        settled = self.settled(before, contract)
        if gate is None and settled:
            self.expect(
                ErrorCode.INVALID_INPUT
                if not reason.strip()
                else self.state_problem(before, contract, m, WORKING)
                or (ErrorCode.REFUND_PENDING if before.pending_refund(milestone) else None)
            )
        if outcome is None:
            return multiple()
        dispute_id = outcome.dispute_id
        assert dispute_id is not None and outcome.milestone_id == milestone, outcome
        row = self.books.disputes[dispute_id]
        assert row.status is DisputeStatus.OPEN and row.opened_by == actor.user_id, row
        after = self.books.milestones[milestone]
        assert after.status is MilestoneStatus.DISPUTED and after.auto_release_at is None, after
        if settled:
            assert row.previous_status is m.status, (row, m)
            assert self.books.entries == before.entries
        return dispute_id

    @rule(dispute=disputes, who=makers)
    def withdraw_dispute(self, dispute: int, who: str) -> None:
        row = self.books.disputes[dispute]
        contract = row.contract_id
        who = self.relative(contract, row.opened_by, who)
        actor = self.actor(contract, who)
        before = self.books
        call = asks.withdraw_dispute(
            self.runtime, actor, commands.WithdrawDispute(dispute_id=dispute)
        )
        gate = self.gate(who, self.role(contract, row.opened_by))
        outcome = self.attempt(call, contract=contract, gate=gate)
        if gate is None and self.settled(before, contract):
            self.expect(None if row.status is DisputeStatus.OPEN else ErrorCode.INVALID_STATE)
        if outcome is not None:
            assert self.books.disputes[dispute].status is DisputeStatus.WITHDRAWN

    @rule(dispute=disputes, who=actors("admin"), split=splits, key=keys)
    def resolve_dispute(self, dispute: int, who: str, split: str | int, key: str | None) -> None:
        row = self.books.disputes[dispute]
        contract = row.contract_id
        actor = self.actor(contract, who)
        before = self.books
        remaining = before.milestones[row.milestone_id].remaining
        to_freelancer, to_client = self.split(split, remaining)
        freelancer_part = typed_amount("freelancer_amount", to_freelancer)
        client_part = typed_amount("client_amount", to_client)
        rejected = (*freelancer_part.pop("rejected", ()), *client_part.pop("rejected", ()))
        split_command = commands.ResolveDispute(
            dispute_id=dispute,
            note="split",
            idempotency_key=key,
            rejected=rejected,
            **freelancer_part,
            **client_part,
        )
        call = asks.resolve_dispute(self.runtime, actor, split_command)
        request = {
            "dispute_id": dispute,
            "freelancer_amount": to_freelancer,
            "client_amount": to_client,
            "note": "split",
        }
        idempotency = Key.of(actor, Action.RESOLVE_DISPUTE, key, request)
        gate = self.gate(who, "admin")
        outcome = self.attempt(call, contract=contract, gate=gate, key=idempotency)
        valid = all(parses(a, allow_zero=True) for a in (to_freelancer, to_client))
        parts = (
            (parse_amount(to_freelancer, allow_zero=True), parse_amount(to_client, allow_zero=True))
            if valid
            else None
        )
        if gate is None and self.settled(before, contract):
            # §6.13: the parts (either may be zero) add up to the milestone's remaining escrow.
            self.expect(
                ErrorCode.INVALID_AMOUNT
                if parts is None
                else (ErrorCode.INVALID_STATE if row.status is not DisputeStatus.OPEN else None)
                or (None if sum(parts) == remaining else ErrorCode.INVALID_AMOUNT)
            )
        if outcome is None or not self.settled(before, contract):
            return
        after = self.books.disputes[dispute]
        assert after.status is DisputeStatus.RESOLVED and after.resolved_by == actor.user_id
        assert parts == (after.freelancer_amount, after.client_amount), (parts, after)
        assert self.delta(before, contract, EntryKind.RELEASE) == parts[0]
        assert self.delta(before, contract, EntryKind.REFUND) == parts[1]
        assert self.delta(before, contract, EntryKind.FUNDING) == 0

    # --- change requests (§1, §6.17-6.18, §6.34) ---------------------------------------------

    @rule(target=change_requests, contract=contracts, who=parties, batch=batches)
    def propose_changes(self, contract: int, who: str, batch: list[tuple[Any, ...]]) -> object:
        actor = self.actor(contract, who)
        before = self.books
        drafts = self.drafts(contract, batch)
        changes, rejected = read_drafts(drafts, "changes", MilestoneChange)
        proposal = commands.ProposeMilestoneChanges(
            contract_id=contract, message="new", changes=changes, rejected=rejected
        )
        call = asks.propose_changes(self.runtime, actor, proposal)
        gate = self.gate(who, None)
        outcome = self.attempt(call, contract=contract, gate=gate)
        settled = self.settled(before, contract)
        if gate is None and settled:
            if not inputs_valid(drafts, self.policy):
                assert self.refusal in INPUT_CODES, self.refusal
            elif before.contracts[contract].status is not ContractStatus.ACTIVE:
                self.expect(ErrorCode.INVALID_STATE)
            elif before.pending_change_request(contract) is not None:
                self.expect(ErrorCode.CHANGE_REQUEST_PENDING)
            else:
                plan = apply_plan(before.milestones_of(contract), drafts, self.policy)
                self.expect(plan if isinstance(plan, ErrorCode) else None)
        if outcome is None:
            return multiple()
        request_id = outcome.change_request_id
        assert request_id is not None
        row = self.books.change_requests[request_id]
        assert row.status is ChangeRequestStatus.PENDING and row.proposed_by == actor.user_id
        assert len(row.changes) == len(drafts)
        if settled:
            assert self.books.milestones == before.milestones, "a proposal changed milestones"
        self.proposals[request_id] = drafts
        return request_id

    @rule(
        contract=contracts,
        who=st.sampled_from(["client", "freelancer"]),
        batch=batches,
        meanwhile=st.sampled_from([None, None, "fund", "fund", "time"]),
        answer=st.sampled_from(["accept", "accept", "accept", "decline", "withdraw"]),
    )
    def renegotiate(
        self,
        contract: int,
        who: str,
        batch: list[tuple[Any, ...]],
        meanwhile: str | None = None,
        answer: str = "accept",
    ) -> None:
        """One party proposes changes; meanwhile the client may fund the next milestone (which
        the accept may then find stale, §6.18) or a few days pass; then the other party answers,
        or the proposer withdraws it, as they do with a request still pending after that."""
        request = self.propose_changes(contract, who, batch)
        if not isinstance(request, int):
            return
        if meanwhile == "fund":
            if any(m.is_active for m in self.books.milestones_of(contract)):
                self.release(contract, "client", "current", None, False, None)
            self.fund(contract, "client", "current", None)
        elif meanwhile == "time":
            self.time_passes(24 * 6, scheduler=False)
        if answer == "accept":
            self.accept_change_request(request, "other")
        elif answer == "decline":
            self.decline_change_request(request, "other")
        if self.books.change_requests[request].status is ChangeRequestStatus.PENDING:
            self.withdraw_change_request(request, "maker")

    @rule(request=change_requests, who=answerers)
    def accept_change_request(self, request: int, who: str) -> None:
        row = self.books.change_requests[request]
        contract = row.contract_id
        who = self.relative(contract, row.proposed_by, who)
        actor = self.actor(contract, who)
        before = self.books
        accept = commands.AcceptChangeRequest(change_request_id=request)
        call = asks.accept_change_request(self.runtime, actor, accept)
        gate = self.gate(who, self.other_role(contract, row.proposed_by))
        outcome = self.attempt(call, contract=contract, gate=gate)
        if gate is None and self.settled(before, contract):
            # §6.18: re-validated on accept; if it no longer applies, nothing is applied and
            # the request stays PENDING.
            pending = row.status is ChangeRequestStatus.PENDING
            plan = apply_plan(before.milestones_of(contract), self.proposals[request], self.policy)
            stale = isinstance(plan, ErrorCode)
            self.expect(
                ErrorCode.INVALID_STATE
                if not pending
                else (ErrorCode.STALE_CHANGE_REQUEST if stale else None)
            )
            if outcome is not None:
                assert not isinstance(plan, ErrorCode)
                self.check_plan(before, contract, plan)
        if outcome is not None:
            assert self.books.change_requests[request].status is ChangeRequestStatus.ACCEPTED

    @rule(request=change_requests, who=answerers)
    def decline_change_request(self, request: int, who: str) -> None:
        row = self.books.change_requests[request]
        contract = row.contract_id
        who = self.relative(contract, row.proposed_by, who)
        actor = self.actor(contract, who)
        before = self.books
        decline = commands.DeclineChangeRequest(change_request_id=request, reason="no")
        call = asks.decline_change_request(self.runtime, actor, decline)
        gate = self.gate(who, self.other_role(contract, row.proposed_by))
        outcome = self.attempt(call, contract=contract, gate=gate)
        if gate is None and self.settled(before, contract):
            pending = row.status is ChangeRequestStatus.PENDING
            self.expect(None if pending else ErrorCode.INVALID_STATE)
        if outcome is not None:
            assert self.books.change_requests[request].status is ChangeRequestStatus.DECLINED

    @rule(request=change_requests, who=makers)
    def withdraw_change_request(self, request: int, who: str) -> None:
        row = self.books.change_requests[request]
        contract = row.contract_id
        who = self.relative(contract, row.proposed_by, who)
        actor = self.actor(contract, who)
        before = self.books
        withdraw = commands.WithdrawChangeRequest(change_request_id=request)
        call = asks.withdraw_change_request(self.runtime, actor, withdraw)
        gate = self.gate(who, self.role(contract, row.proposed_by))
        outcome = self.attempt(call, contract=contract, gate=gate)
        if gate is None and self.settled(before, contract):
            pending = row.status is ChangeRequestStatus.PENDING
            self.expect(None if pending else ErrorCode.INVALID_STATE)
        if outcome is not None:
            assert self.books.change_requests[request].status is ChangeRequestStatus.WITHDRAWN

    # --- the parties' natural course, and time ------------------------------------------------

    @rule(contract=contracts, plan=st.lists(natural_steps, min_size=2, max_size=8))
    def progress(self, contract: int, plan: list[tuple[str | None, bool, str]]) -> None:
        """The steps the contract waits for, each by the party whose turn it is."""
        for amount, end_contract, move in plan:
            row = self.books.contracts[contract]
            active = next((m for m in self.books.milestones_of(contract) if m.is_active), None)
            if row.status is ContractStatus.OFFERED:
                self.accept(contract, "freelancer")
            elif row.status is not ContractStatus.ACTIVE:
                return
            elif active is None and not any(
                m.status is MilestoneStatus.NOT_FUNDED for m in self.books.milestones_of(contract)
            ):
                # Nothing left to fund: the parties agree on one more milestone, or end.
                if end_contract:
                    self.end(contract, "client")
                else:
                    self.renegotiate(contract, "client", [("ADD", "More", "30.00", None, None)])
            elif active is None:
                self.fund(contract, "client", "current", None)
            elif (dispute := self.books.open_dispute(active.id)) is not None:
                if move in ("revise", "refund", "dispute"):
                    self.withdraw_dispute(dispute.id, "maker")
                else:
                    self.resolve_dispute(dispute.id, "admin", "half", None)
            elif (refund := self.books.pending_refund(active.id)) is not None:
                self.answer_refund(refund.id, "freelancer", move not in ("revise", "dispute"))
            elif move == "refund":
                self.request_refund(contract, "client", "current", "~half")
            elif move == "dispute":
                self.open_dispute(contract, "freelancer", "current", "We disagree")
            elif active.status is MilestoneStatus.SUBMITTED and move == "revise":
                self.request_revision(contract, "client", "current")
            elif active.status is not MilestoneStatus.SUBMITTED and move != "release":
                if active.is_piece_rate:
                    self.submit(
                        contract, "freelancer", "current", None, "rest" if end_contract else "one"
                    )
                else:
                    self.submit(contract, "freelancer", "current", amount, None)
            elif active.is_piece_rate and active.status is not MilestoneStatus.SUBMITTED:
                self.complete(contract, "client", "current")
            else:
                text = None if active.is_piece_rate else amount
                self.release(contract, "client", "current", text, end_contract, None)

    @rule(hours=st.sampled_from([1, 24 * 6, 24 * 7, 24 * 15]), scheduler=st.booleans())
    def time_passes(self, hours: int, scheduler: bool) -> None:
        """Time passes; the deadline job may run, or deadlines wait for the next action."""
        self.clock.advance(timedelta(hours=hours))
        if scheduler:
            self.scheduler_runs()

    def scheduler_runs(self) -> None:
        """The deadline job: automatic releases and refund approvals fire, old idempotency
        keys go (§6.27)."""
        before = self.books
        self.run(deadlines.run_due(self.runtime))
        after = self.checked(before, None)
        now = self.clock()
        for m in after.milestones.values():
            overdue = m.auto_release_at is not None and m.auto_release_at <= now
            assert not (overdue and m.status is MilestoneStatus.SUBMITTED), m
        for r in after.refunds.values():
            assert not (r.status is RefundStatus.PENDING and r.respond_by <= now), r
        for cid in before.contracts:
            new_events = after.events_of(cid)[len(before.events_of(cid)) :]
            assert all(e.actor_id is None for e in new_events), new_events
            if self.settled(before, cid):
                assert not new_events, new_events
        young = {k for k, (_, _, at) in self.keys.items() if at > now - timedelta(hours=24)}
        assert young <= after.idempotency_keys <= set(self.keys)
        self.keys = {k: v for k, v in self.keys.items() if k in after.idempotency_keys}

    # --- after every step ------------------------------------------------------------------

    @invariant()
    def books_balance(self) -> None:
        if not self.fresh:
            self.books = self.run(snapshot())
        self.fresh = False
        check_books(self.books, self.policy)

    # --- helpers ----------------------------------------------------------------------------

    def attempt(
        self,
        call: Coroutine[Any, Any, Outcome],
        *,
        contract: int | None,
        gate: ErrorCode | None,
        key: Key | None = None,
    ) -> Outcome | None:
        """Run one use case; None when it was refused, after checking it changed nothing.

        `gate` is the refusal that visibility and permission alone call for (§6.31). A
        deadline that has passed takes effect before the action even if it is then refused
        (§6.33); apart from that, a refusal and an idempotent replay change nothing. Leaves
        the refusal's code in `refusal`, and whether the key replayed in `replayed`.
        """
        before = self.books
        stored = self.keys.get(key.id) if key is not None else None
        self.refusal, self.replayed = None, stored is not None
        try:
            outcome = self.run(call)
        except DomainError as error:
            note(f"refused: {[(p.code.value, p.message, p.field) for p in error.problems]}")
            self.refusal = error.code
            after = self.checked(before, contract)
            assert after.idempotency_keys == before.idempotency_keys
            self.unchanged(before, after, contract, "a refused action changed the database")
            if gate is not None:
                assert error.code is gate, (gate, error.problems)
            else:
                assert not is_gate(error.problems[0]), error.problems
            if stored is not None and gate is None:
                assert key is not None
                assert stored[0] != key.request, "a retry with the same key and input failed"
                assert error.code is ErrorCode.IDEMPOTENCY_KEY_REUSED, error.problems
            return None
        assert gate is None, f"expected {gate}, got {outcome}"
        note(f"outcome: {outcome}")
        after = self.checked(before, contract)
        if stored is not None:
            assert key is not None
            assert stored[0] == key.request, f"{key.id} reused with other input: {outcome}"
            assert outcome == stored[1], "an idempotent retry did not replay the first outcome"
            assert after.idempotency_keys == before.idempotency_keys
            self.unchanged(before, after, contract, "an idempotent retry changed the database")
            return None
        if key is not None:
            self.keys[key.id] = (key.request, outcome, self.clock())
            assert after.idempotency_keys == before.idempotency_keys | {key.id}
        else:
            assert after.idempotency_keys == before.idempotency_keys
        if outcome.problems:
            self.refusal = outcome.problems[0].code
            self.unchanged(before, after, contract, "a refusal under a key changed the books")
            assert not any(is_gate(p) for p in outcome.problems), outcome
            return None
        return outcome

    def expect(self, expected: ErrorCode | None) -> None:
        """The last attempt was refused with `expected`, or done if None (unless replayed)."""
        if not self.replayed:
            assert self.refusal is expected, f"expected {expected}, got {self.refusal}"

    def checked(self, before: Snapshot, contract: int | None) -> Snapshot:
        """Read the books after a step and check them; only other contracts' rows never move."""
        after = self.run(snapshot())
        check_books(after, self.policy)
        # The ledger and the events are append-only.
        assert after.entries[: len(before.entries)] == before.entries
        for cid in before.contracts:
            assert after.events_of(cid)[: len(before.events_of(cid))] == before.events_of(cid)
        if contract is not None:
            assert after.others(contract) == before.others(contract), "another contract changed"
        self.settlements(before, after)
        self.books, self.fresh = after, True
        return after

    def settlements(self, before: Snapshot, after: Snapshot) -> None:
        """Every refund request, dispute and change request that moved in the step moved as
        the rules say, whoever or whatever (a deadline) moved it; a settled one never moves."""
        now = self.clock()

        def new_events(cid: int) -> list[tuple[Any, ...]]:
            events = after.events_of(cid)[len(before.events_of(cid)) :]
            return [(e.type, e.milestone_id, e.amount) for e in events]

        def money(m: MilestoneRow) -> tuple[int, int, int]:
            return (m.funded, m.released, m.refunded)

        for rid, r in after.refunds.items():
            old = before.refunds.get(rid)
            m0 = before.milestones[r.milestone_id]
            m1 = after.milestones[r.milestone_id]
            if old is None:
                assert r.status is RefundStatus.PENDING, r
                assert r.respond_by == now + self.policy.refund_response_window, r
                left = m0.auto_release_at - now if m0.auto_release_at else None
                self.paused["refund", rid] = left if left and left > timedelta(0) else None
                continue
            if old.status is not RefundStatus.PENDING or r.status is RefundStatus.PENDING:
                assert r == old, (old, r)
                continue
            assert r.resolved_at == now, r
            if r.status is RefundStatus.APPROVED:
                # §1, §6.13, §6.19, §6.35: the amount goes back as one REFUND; the rest of a
                # fixed-price milestone is released, of a piece-rate one becomes available.
                rest = m0.remaining - r.amount
                paid = 0 if m0.is_piece_rate else rest
                assert m1.refunded - m0.refunded == r.amount, (r, m0, m1)
                assert m1.released - m0.released == paid, (r, m0, m1)
                assert m1.funded == m0.funded, (m0, m1)
                finished = MilestoneStatus.RELEASED if m1.released else MilestoneStatus.REFUNDED
                assert m1.status is finished, m1
                expected = [
                    (EventType.REFUND_APPROVED, m1.id, r.amount),
                    (EventType.MILESTONE_REFUNDED, m1.id, r.amount),
                ] + ([(EventType.MILESTONE_RELEASED, m1.id, paid)] if paid else [])
                assert contains(new_events(r.contract_id), expected), new_events(r.contract_id)
                # Past `respondBy` only the deadline approves it (§6.33), before that only the
                # freelancer.
                approval = next(
                    e
                    for e in after.events_of(r.contract_id)[len(before.events_of(r.contract_id)) :]
                    if e.type == EventType.REFUND_APPROVED and e.milestone_id == m1.id
                )
                freelancer = after.contracts[r.contract_id].freelancer_id
                automatic = old.respond_by <= now
                assert approval.actor_id == (None if automatic else freelancer), (old, approval)
            elif r.status is RefundStatus.DECLINED:
                # §6.12: the milestone returns to where it was, its clock with the time left.
                assert money(m1) == money(m0) and m1.status is m0.status, (m0, m1)
                left = self.paused.get(("refund", rid))
                if m1.status is MilestoneStatus.SUBMITTED:
                    assert left is not None and m1.auto_release_at == now + left, (m1, left)
            else:
                # §1, §6.34: a release or a completion withdraws it, and so does the end.
                assert r.status is RefundStatus.WITHDRAWN, r
                ended = after.contracts[r.contract_id].status in FINAL
                assert ended or m1.released > m0.released or not m1.is_active, (r, m0, m1)

        for did, d in after.disputes.items():
            old_d = before.disputes.get(did)
            m0 = before.milestones[d.milestone_id]
            m1 = after.milestones[d.milestone_id]
            if old_d is None:
                assert d.status is DisputeStatus.OPEN, d
                left = m0.auto_release_at - now if m0.auto_release_at else None
                self.paused["dispute", did] = left if left and left > timedelta(0) else None
                continue
            if old_d.status is not DisputeStatus.OPEN or d.status is DisputeStatus.OPEN:
                assert d == old_d, (old_d, d)
                continue
            if d.status is DisputeStatus.RESOLVED:
                # §6.13: the parts are one REFUND and one RELEASE, each with its event.
                assert d.freelancer_amount is not None and d.client_amount is not None
                assert m1.released - m0.released == d.freelancer_amount, (d, m0, m1)
                assert m1.refunded - m0.refunded == d.client_amount, (d, m0, m1)
                assert m1.funded == m0.funded and m1.remaining == 0, (m0, m1)
                finished = MilestoneStatus.RELEASED if m1.released else MilestoneStatus.REFUNDED
                assert m1.status is finished, m1
                total = d.freelancer_amount + d.client_amount
                expected = [(EventType.DISPUTE_RESOLVED, m1.id, total)]
                if d.client_amount:
                    expected.append((EventType.MILESTONE_REFUNDED, m1.id, d.client_amount))
                if d.freelancer_amount:
                    expected.append((EventType.MILESTONE_RELEASED, m1.id, d.freelancer_amount))
                assert contains(new_events(d.contract_id), expected), new_events(d.contract_id)
            else:
                # §6.34: a withdrawn dispute gives back the status and the review time left.
                assert d.status is DisputeStatus.WITHDRAWN, d
                assert money(m1) == money(m0) and m1.status is d.previous_status, (d, m1)
                left = self.paused.get(("dispute", did))
                if m1.status is MilestoneStatus.SUBMITTED:
                    assert left is not None and m1.auto_release_at == now + left, (m1, left)

        for cid_, c in after.change_requests.items():
            old_c = before.change_requests.get(cid_)
            if old_c is None:
                assert c.status is ChangeRequestStatus.PENDING, c
            elif old_c.status is not ChangeRequestStatus.PENDING:
                assert c == old_c, (old_c, c)
            elif c.status in (ChangeRequestStatus.PENDING, ChangeRequestStatus.DECLINED):
                assert c == dataclasses.replace(old_c, status=c.status), (old_c, c)
                plan = [
                    (m.id, m.position, m.title, m.amount)
                    for m in after.milestones_of(c.contract_id)
                ]
                was = [
                    (m.id, m.position, m.title, m.amount)
                    for m in before.milestones_of(c.contract_id)
                ]
                assert plan == was, "only an accepted change request changes the milestones"

    def check_plan(self, before: Snapshot, contract: int, plan: list[Planned]) -> None:
        """An accepted change request left exactly the milestones its changes describe."""
        old = {m.id: m for m in before.milestones_of(contract)}
        now = self.books.milestones_of(contract)
        got = [(m.id if m.id in old else None, m.title, m.amount) for m in now]
        assert got == [(p.id, p.title, p.amount) for p in plan], (got, plan)
        for m, p in zip(now, plan, strict=True):
            if p.id is None:
                assert m.status is MilestoneStatus.NOT_FUNDED and m.funded == 0, m
                assert m.is_piece_rate == p.piece_rate, m
            else:
                assert m.status is old[m.id].status, (old[m.id], m)
                assert (m.funded, m.released, m.refunded) == (
                    old[m.id].funded,
                    old[m.id].released,
                    old[m.id].refunded,
                )
        for gone in set(old) - {m.id for m in now}:
            row = self.books.milestones[gone]
            assert row.deleted and row.position is None, row
        assert self.books.entries == before.entries

    def unchanged(self, before: Snapshot, after: Snapshot, contract: int | None, why: str) -> None:
        if contract is None or self.settled(before, contract):
            assert after.state() == before.state(), why
            return
        # Only the deadlines that had passed took effect: automatic steps, no actor.
        new_events = after.events_of(contract)[len(before.events_of(contract)) :]
        assert all(e.actor_id is None for e in new_events), (why, new_events)

    def actor(self, contract_id: int, who: str) -> Actor:
        row = self.books.contracts[contract_id]
        if who == "client":
            return Actor(row.client_id)
        if who == "freelancer":
            return Actor(row.freelancer_id)
        if who == "admin":
            return Actor(self.admin.id, is_admin=True)
        outsider = next(p for p in self.people if p.id not in (row.client_id, row.freelancer_id))
        return Actor(outsider.id)

    def role(self, contract_id: int, user_id: int) -> str:
        return "client" if self.books.contracts[contract_id].client_id == user_id else "freelancer"

    def other_role(self, contract_id: int, user_id: int) -> str:
        return "freelancer" if self.role(contract_id, user_id) == "client" else "client"

    def relative(self, contract_id: int, maker_id: int, who: str) -> str:
        """ "maker" and "other" as the party who made a request and the other party."""
        if who == "maker":
            return self.role(contract_id, maker_id)
        if who == "other":
            return self.other_role(contract_id, maker_id)
        return who

    def gate(self, who: str, role: str | None, milestone: int | None = None) -> ErrorCode | None:
        """The refusal that visibility and permission alone call for (§6.31), if any: an
        unknown (deleted) milestone is NOT_FOUND to all; admins see every contract but act
        only to resolve disputes ("admin" role)."""
        if milestone is not None and self.books.milestones[milestone].deleted:
            return ErrorCode.NOT_FOUND
        if who == "outsider":
            return ErrorCode.NOT_FOUND
        if role is not None and who != role:
            return ErrorCode.NOT_PERMITTED
        if who == "admin" and role != "admin":
            return ErrorCode.NOT_PERMITTED
        return None

    def state_problem(
        self,
        books: Snapshot,
        contract_id: int,
        milestone: MilestoneRow,
        statuses: Sequence[MilestoneStatus],
    ) -> ErrorCode | None:
        """INVALID_STATE unless the contract is ACTIVE and the milestone in `statuses`."""
        active = books.contracts[contract_id].status is ContractStatus.ACTIVE
        return None if active and milestone.status in statuses else ErrorCode.INVALID_STATE

    def milestone(self, contract_id: int, which: str | int) -> int:
        """The active milestone or the next to fund ("current"), one by index, or a deleted
        one when there is any ("deleted")."""
        milestones = self.books.milestones_of(contract_id)
        deleted = [
            m for m in self.books.milestones.values() if m.contract_id == contract_id and m.deleted
        ]
        if (which == "deleted" and deleted) or not milestones:
            return min(deleted, key=lambda m: m.id).id
        if isinstance(which, int):
            return milestones[which % len(milestones)].id
        current = next((m for m in milestones if m.is_active), None) or next(
            (m for m in milestones if m.status is MilestoneStatus.NOT_FUNDED), milestones[-1]
        )
        return current.id

    def amount(self, choice: str | None, contract_id: int, milestone_id: int) -> str | None:
        if choice is None or not choice.startswith("~"):
            return choice
        m = self.books.milestones[milestone_id]
        base = m.remaining or m.amount
        submission = self.pending_submission(self.books, milestone_id)
        cents = {
            "~cent": 1,
            "~half": max(1, base // 2),
            "~all": base,
            "~more": base + 1,
            "~much_more": base + self.books.available(contract_id) + 10_000,
            "~due": submission[1] if submission else (m.unit_price or base),
        }[choice]
        return format_amount(cents)

    @staticmethod
    def units(choice: str | None, m: MilestoneRow) -> int | None:
        """Units to submit: as suits the milestone, one, all that remain, too many, or zero."""
        if choice is None:
            return None
        left = (m.max_units or 1) - m.units_released
        if choice in ("fit", "rest"):
            return None if not m.is_piece_rate else 1 if choice == "fit" else left
        return {"one": 1, "over": left + 1, "zero": 0}[choice]

    @staticmethod
    def split(choice: str | int, remaining: int) -> tuple[str, str]:
        """A dispute's (freelancerAmount, clientAmount)."""
        half = remaining // 2
        if isinstance(choice, int):
            return format_amount(choice), format_amount(max(0, remaining - choice))
        parts = {
            "freelancer": (remaining, 0),
            "client": (0, remaining),
            "half": (half, remaining - half),
            "over": (half, remaining - half + 1),
            "under": (half, max(0, remaining - half - 1)),
        }
        if choice == "negative":
            return "-1.00", format_amount(remaining + 100)
        if choice == "garbage":
            return "ten", "1.001"
        f, c = parts[choice]
        return format_amount(f), format_amount(c)

    def drafts(self, contract_id: int, batch: list[tuple[Any, ...]]) -> list[ChangeDraft]:
        """The batch as ChangeDrafts against the milestones of the moment: indexes 0-3 pick a
        future milestone when there is one, 4-5 any live one (a deleted one when none is)."""
        live = self.books.milestones_of(contract_id)
        deleted = [
            m.id
            for m in self.books.milestones.values()
            if m.contract_id == contract_id and m.deleted
        ]
        ids = [m.id for m in live] or deleted
        future = [m.id for m in live if m.status is MilestoneStatus.NOT_FUNDED]

        def target(index: int) -> int:
            pool = future if future and index < 4 else ids
            return pool[index % len(pool)]

        def position(choice: int | str | None) -> int | None:
            return len(live) if choice == "last" else choice  # type: ignore[return-value]

        result = []
        for spec in batch:
            action = ChangeAction(spec[0])
            if action is ChangeAction.ADD:
                _, title, amount, at, rate = spec
                fields = (
                    {"amount": amount}
                    if rate is None
                    else {
                        "unit_price": rate[0],
                        "max_units": rate[1],
                    }
                )
                result.append(ChangeDraft(action, title=title, position=position(at), **fields))
            elif action is ChangeAction.UPDATE:
                _, index, amount, title = spec
                result.append(
                    ChangeDraft(action, milestone_id=target(index), amount=amount, title=title)
                )
            elif action is ChangeAction.DELETE:
                result.append(ChangeDraft(action, milestone_id=target(spec[1])))
            else:
                _, index, at = spec
                result.append(
                    ChangeDraft(action, milestone_id=target(index), position=position(at))
                )
        return result

    @staticmethod
    def pending_submission(books: Snapshot, milestone_id: int) -> tuple[int, int, int] | None:
        """The latest submission if it awaits review: (id, requested amount, units)."""
        latest = max(
            (s for s in books.submissions.items() if s[1][0] == milestone_id),
            default=None,
        )
        if latest is None:
            return None
        sid, (_, status, requested, units) = latest
        return (sid, requested, units or 0) if status == "PENDING" else None

    def default_release(self, books: Snapshot, milestone_id: int) -> int:
        """§6.11: the latest pending submission's request when submitted, else the escrow."""
        m = books.milestones[milestone_id]
        submission = self.pending_submission(books, milestone_id)
        if m.status is MilestoneStatus.SUBMITTED and submission is not None:
            return submission[1]
        return m.remaining

    def settled(self, before: Snapshot, contract_id: int) -> bool:
        """No deadline could have fired inside the step (§6.33), so its effect is exact."""
        now = self.clock()
        return not any(
            m.auto_release_at is not None and m.auto_release_at <= now
            for m in before.milestones_of(contract_id)
        ) and not any(
            r.status is RefundStatus.PENDING and r.respond_by <= now
            for r in before.refunds_of(contract_id)
        )

    def delta(self, before: Snapshot, contract_id: int, kind: EntryKind) -> int:
        return (
            self.books.totals(contract_id).by_kind[kind] - before.totals(contract_id).by_kind[kind]
        )

    def expect_status(self, contract_id: int, status: ContractStatus) -> None:
        assert self.books.contracts[contract_id].status is status, self.books.contracts[contract_id]


@pytest.fixture
async def session_loop(db: None) -> asyncio.AbstractEventLoop:
    """The loop the database connection lives on; idle while a synchronous test runs."""
    return asyncio.get_running_loop()


def test_books_stay_balanced_whatever_the_steps(session_loop: asyncio.AbstractEventLoop) -> None:
    class MachineOnTheSessionLoop(LedgerMachine):
        def __init__(self) -> None:
            super().__init__(session_loop)

    run_state_machine_as_test(
        MachineOnTheSessionLoop,
        settings=settings(
            max_examples=25,
            stateful_step_count=50,
            deadline=None,
            report_multiple_bugs=False,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
