"""Random sequences of use cases keep the books right (API.md §1, §6.1-6.5, §6.19, §6.27).

A Hypothesis state machine creates contracts and drives them through the services (accept,
decline, end, fund, submit, request a revision, release any amount, pay a bonus), as the
client, the freelancer or an outsider, with and without idempotency keys, while the clock
moves. Refusals are expected; after every step the whole database is read back and checked:

- per contract: totalFunded = totalReleased + totalRefunded + held; held and available are
  never negative; the ESCROW account's balance is held; all balances sum to zero; every
  milestone's escrow is funded >= released + refunded and matches its entries; fees match
  the charges and payouts they belong to; events are numbered 1..n; an ended or declined
  contract holds nothing, and a declined or withdrawn offer gave every cent back;
- a refused action changed nothing (a refusal under an idempotency key only stores the key);
- a successful step moved exactly the money it should have, and an idempotent retry none.

The machine's rules are synchronous (Hypothesis drives them), and the services run on the
session event loop that the database lives on: between tests pytest-asyncio's runner is idle,
so a synchronous test may run coroutines on that loop with `run_until_complete`.

A failure is shrunk to a short program of steps, printed with what each step returned; the
shrinking replays the database steps and may take Hypothesis's five-minute shrink budget.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
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
from app.domain.contract import Actor, ContractStatus
from app.domain.errors import DomainError, ErrorCode
from app.domain.ledger import EntryKind
from app.domain.milestones import MilestoneDraft, MilestoneStatus
from app.domain.money import format_amount, parse_amount
from app.services import contracts as services
from app.services import deadlines
from app.services.unit import Outcome
from tests.services.books import Snapshot, check_books, snapshot
from tests.support import FrozenClock, make_runtime

T = TypeVar("T")

ROLES = ("client", "freelancer", "outsider")
GATES = (ErrorCode.NOT_FOUND, ErrorCode.NOT_PERMITTED)


def actors(role: str) -> st.SearchStrategy[str]:
    """Mostly the party whose turn it is, sometimes the other one or an outsider."""
    return st.sampled_from([role, role, role, *(r for r in ROLES if r != role)])


cents = st.integers(min_value=1, max_value=200_000).map(format_amount)
valid_milestone_amounts = st.one_of(
    st.sampled_from(["5.00", "100.00", "12.34"]),
    st.integers(min_value=500, max_value=200_000).map(format_amount),
)
milestone_amounts = st.one_of(valid_milestone_amounts, st.just("4.99"))
# "~name": an amount relative to the milestone at the time of the step (`LedgerMachine.amount`).
relative = st.sampled_from(["~cent", "~half", "~all", "~more", "~much_more"])
invalid = st.sampled_from(["0", "-1.00", "1.001", "ten"])
release_amounts = st.one_of(st.none(), relative, cents, invalid)
requested_amounts = st.one_of(st.none(), relative, cents)
bonus_amounts = st.one_of(cents, cents, invalid)
keys = st.sampled_from([None, None, "k1", "k2"])
# One step of the happy path: an amount to ask for or release, endContract, and whether the
# client reviews the work, releases without waiting for it, or asks for a revision.
natural_steps = st.tuples(
    requested_amounts,
    st.sampled_from([False, False, False, True]),
    st.sampled_from(["review", "release", "revise"]),
)
milestone_choices = st.one_of(st.just("current"), st.integers(min_value=0, max_value=3))


@dataclass(frozen=True)
class Key:
    """An idempotency key as the service scopes it, and the request it came with."""

    id: tuple[int, str, str]
    request: dict[str, Any]

    @classmethod
    def of(
        cls, actor: Actor, mutation: str, key: str | None, request: dict[str, Any]
    ) -> Key | None:
        return cls((actor.user_id, mutation, key), request) if key is not None else None


class LedgerMachine(RuleBasedStateMachine):
    contracts = Bundle("contracts")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop
        self.clock = FrozenClock()
        self.runtime = make_runtime(self.clock)
        self.run(truncate_all_models())
        self.people = [
            self.run(models.User.create(name=name, email=f"{name}@example.com", password_hash="-"))
            for name in ("ann", "ben", "cat")
        ]
        # What each idempotency key was first used for: (user, mutation, key) -> request, outcome.
        self.keys: dict[tuple[int, str, str], tuple[dict[str, Any], Outcome, datetime]] = {}
        self.books = self.run(snapshot())
        self.fresh = True  # `books` was read from the database since the last check

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    # --- rules ----------------------------------------------------------------------------

    @initialize(target=contracts, amounts=st.lists(valid_milestone_amounts, min_size=1, max_size=4))
    def first_contract(self, amounts: list[str]) -> object:
        return self.create((0, 1), amounts)

    @initialize(target=contracts, amounts=st.lists(valid_milestone_amounts, min_size=1, max_size=4))
    def second_contract(self, amounts: list[str]) -> object:
        return self.create((1, 2), amounts)

    @rule(
        target=contracts,
        parties=st.sampled_from([(0, 1), (1, 2), (2, 0), (1, 0), (0, 0)]),
        amounts=st.one_of(st.lists(milestone_amounts, min_size=1, max_size=4), st.just([])),
    )
    def create(self, parties: tuple[int, int], amounts: list[str]) -> object:
        client, freelancer = parties
        valid = (
            client != freelancer
            and bool(amounts)
            and all(
                parse_amount(a) >= self.runtime.policy.minimum_milestone_amount for a in amounts
            )
        )
        call = services.create_contract(
            self.runtime,
            Actor(self.people[client].id),
            freelancer_id=self.people[freelancer].id,
            title="Work",
            description=None,
            currency=None,
            milestones=[MilestoneDraft(title=f"Step {i}", amount=a) for i, a in enumerate(amounts)],
        )
        outcome = self.attempt(call, contract=None, gate=None)
        assert (outcome is not None) == valid, (outcome, amounts)
        if outcome is None:
            return multiple()
        contract_id = outcome.contract_id
        assert contract_id is not None
        assert self.books.contracts[contract_id].status is ContractStatus.OFFERED
        assert [m.amount for m in self.books.milestones_of(contract_id)] == [
            parse_amount(a) for a in amounts
        ]
        assert not self.books.entries_of(contract_id)
        return contract_id

    @rule(contract=contracts, who=actors("freelancer"))
    def accept(self, contract: int, who: str) -> None:
        actor = self.actor(contract, who)
        gate = self.gate(who, "freelancer")
        call = services.accept_contract(self.runtime, actor, contract)
        if self.attempt(call, contract=contract, gate=gate):
            self.expect_status(contract, ContractStatus.ACTIVE)

    @rule(contract=contracts, who=actors("freelancer"))
    def decline(self, contract: int, who: str) -> None:
        actor = self.actor(contract, who)
        gate = self.gate(who, "freelancer")
        call = services.decline_contract(self.runtime, actor, contract, "no thanks")
        if self.attempt(call, contract=contract, gate=gate):
            self.expect_status(contract, ContractStatus.DECLINED)

    @rule(contract=contracts, who=actors("client"))
    def end(self, contract: int, who: str) -> None:
        actor = self.actor(contract, who)
        status = self.books.contracts[contract].status
        gate = self.gate(who, "client" if status is ContractStatus.OFFERED else None)
        call = services.end_contract(self.runtime, actor, contract, None)
        if self.attempt(call, contract=contract, gate=gate):
            self.expect_status(contract, ContractStatus.ENDED)

    @rule(contract=contracts, who=actors("client"), which=milestone_choices, key=keys)
    def fund(self, contract: int, who: str, which: str | int, key: str | None) -> None:
        actor = self.actor(contract, who)
        milestone = self.milestone(contract, which)
        before = self.books
        call = services.fund_milestone(self.runtime, actor, milestone, key)
        idempotency = Key.of(actor, "fundMilestone", key, {"milestoneId": milestone})
        gate = self.gate(who, "client")
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
    )
    def submit(self, contract: int, who: str, which: str | int, amount: str | None) -> None:
        actor = self.actor(contract, who)
        milestone = self.milestone(contract, which)
        before = self.books
        call = services.submit_milestone(
            self.runtime,
            actor,
            milestone,
            message="done",
            attachments=["https://example.com/work.zip"],
            requested_amount=self.amount(amount, contract, milestone),
            units=None,
        )
        if self.attempt(call, contract=contract, gate=self.gate(who, "freelancer")) is None:
            return
        if self.settled(before, contract):
            assert self.books.milestones[milestone].status is MilestoneStatus.SUBMITTED
            assert self.books.entries == before.entries
            assert len(self.books.submissions) == len(before.submissions) + 1

    @rule(contract=contracts, who=actors("client"), which=milestone_choices)
    def request_revision(self, contract: int, who: str, which: str | int) -> None:
        actor = self.actor(contract, who)
        milestone = self.milestone(contract, which)
        before = self.books
        call = services.request_revision(self.runtime, actor, milestone, "again")
        if self.attempt(call, contract=contract, gate=self.gate(who, "client")) is None:
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
        call = services.release_milestone(
            self.runtime,
            actor,
            milestone,
            amount=text,
            end_contract=end_contract,
            idempotency_key=key,
        )
        request = {"milestoneId": milestone, "amount": text, "endContract": end_contract}
        idempotency = Key.of(actor, "releaseMilestone", key, request)
        gate = self.gate(who, "client")
        outcome = self.attempt(call, contract=contract, gate=gate, key=idempotency)
        if outcome is None or not self.settled(before, contract):
            return
        m_before, m_after = before.milestones[milestone], self.books.milestones[milestone]
        value = (
            parse_amount(text) if text is not None else self.default_release(before, m_before.id)
        )
        assert m_after.status is MilestoneStatus.RELEASED, m_after
        assert m_after.released - m_before.released == value, (m_before, m_after)
        assert self.delta(before, contract, EntryKind.RELEASE) == value
        short = max(0, value - m_before.remaining)
        charged = max(0, short - before.available(contract))
        assert self.delta(before, contract, EntryKind.FUNDING) == charged
        expected = ContractStatus.ENDED if end_contract else ContractStatus.ACTIVE
        self.expect_status(contract, expected)

    @rule(contract=contracts, who=actors("client"), amount=bonus_amounts, key=keys)
    def pay_bonus(self, contract: int, who: str, amount: str, key: str | None) -> None:
        actor = self.actor(contract, who)
        before = self.books
        call = services.pay_bonus(
            self.runtime, actor, contract, amount=amount, note="thanks", idempotency_key=key
        )
        request = {"contractId": contract, "amount": amount, "note": "thanks"}
        idempotency = Key.of(actor, "payBonus", key, request)
        gate = self.gate(who, "client")
        outcome = self.attempt(call, contract=contract, gate=gate, key=idempotency)
        if outcome is None or not self.settled(before, contract):
            return
        assert self.delta(before, contract, EntryKind.BONUS) == parse_amount(amount)
        assert self.books.totals(contract).held == before.totals(contract).held

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
            elif active is None:
                self.fund(contract, "client", "current", None)
            elif active.status is MilestoneStatus.SUBMITTED and move == "revise":
                self.request_revision(contract, "client", "current")
            elif active.status is not MilestoneStatus.SUBMITTED and move != "release":
                self.submit(contract, "freelancer", "current", amount)
            else:
                self.release(contract, "client", "current", amount, end_contract, None)

    @rule(hours=st.sampled_from([1, 24 * 7, 24 * 15]), scheduler=st.booleans())
    def time_passes(self, hours: int, scheduler: bool) -> None:
        """Time passes; the deadline job may run, or deadlines wait for the next action."""
        self.clock.advance(timedelta(hours=hours))
        if scheduler:
            self.scheduler_runs()

    def scheduler_runs(self) -> None:
        """The deadline job: automatic releases fire, old idempotency keys go (§6.27)."""
        before = self.books
        self.run(deadlines.run_due(self.runtime))
        after = self.checked(before, None)
        now = self.clock()
        for m in after.milestones.values():
            overdue = m.auto_release_at is not None and m.auto_release_at <= now
            assert not (overdue and m.status is MilestoneStatus.SUBMITTED), m
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
        check_books(self.books, self.runtime.policy)

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
        (§6.33); apart from that, a refusal and an idempotent replay change nothing.
        """
        before = self.books
        stored = self.keys.get(key.id) if key is not None else None
        try:
            outcome = self.run(call)
        except DomainError as error:
            note(f"refused: {[(p.code.value, p.message) for p in error.problems]}")
            after = self.checked(before, contract)
            assert after.idempotency_keys == before.idempotency_keys
            self.unchanged(before, after, contract, "a refused action changed the database")
            if gate is not None:
                assert error.code is gate, (gate, error.problems)
            else:
                assert error.code not in GATES, error.problems
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
            self.unchanged(before, after, contract, "a refusal under a key changed the books")
            assert all(p.code not in GATES for p in outcome.problems), outcome
            return None
        return outcome

    def checked(self, before: Snapshot, contract: int | None) -> Snapshot:
        """Read the books after a step and check them; only other contracts' rows never move."""
        after = self.run(snapshot())
        check_books(after, self.runtime.policy)
        # The ledger and the events are append-only.
        assert after.entries[: len(before.entries)] == before.entries
        for cid in before.contracts:
            assert after.events_of(cid)[: len(before.events_of(cid))] == before.events_of(cid)
        if contract is not None:
            assert after.others(contract) == before.others(contract), "another contract changed"
        self.books, self.fresh = after, True
        return after

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
        outsider = next(p for p in self.people if p.id not in (row.client_id, row.freelancer_id))
        return Actor(outsider.id)

    @staticmethod
    def gate(who: str, role: str | None) -> ErrorCode | None:
        """The refusal that visibility and permission alone call for (§6.31), if any."""
        if who == "outsider":
            return ErrorCode.NOT_FOUND
        if role is not None and who != role:
            return ErrorCode.NOT_PERMITTED
        return None

    def milestone(self, contract_id: int, which: str | int) -> int:
        """The active milestone or the next to fund ("current"), or one by index."""
        milestones = self.books.milestones_of(contract_id)
        if which == "current":
            current = next((m for m in milestones if m.is_active), None) or next(
                (m for m in milestones if m.status is MilestoneStatus.NOT_FUNDED), milestones[-1]
            )
            return current.id
        assert isinstance(which, int)
        return milestones[which % len(milestones)].id

    def amount(self, choice: str | None, contract_id: int, milestone_id: int) -> str | None:
        if choice is None or not choice.startswith("~"):
            return choice
        m = self.books.milestones[milestone_id]
        base = m.remaining or m.amount
        cents = {
            "~cent": 1,
            "~half": max(1, base // 2),
            "~all": base,
            "~more": base + 1,
            "~much_more": base + self.books.available(contract_id) + 10_000,
        }[choice]
        return format_amount(cents)

    def default_release(self, books: Snapshot, milestone_id: int) -> int:
        """§6.11: the latest pending submission's request when submitted, else the escrow."""
        m = books.milestones[milestone_id]
        latest = max(
            (s for s in books.submissions.items() if s[1][0] == milestone_id),
            default=None,
        )
        if m.status is MilestoneStatus.SUBMITTED and latest is not None:
            _, (_, status, requested) = latest
            if status == "PENDING":
                return requested
        return m.remaining

    def settled(self, before: Snapshot, contract_id: int) -> bool:
        """No deadline could have fired inside the step (§6.33), so its effect is exact."""
        now = self.clock()
        return not any(
            m.auto_release_at is not None and m.auto_release_at <= now
            for m in before.milestones_of(contract_id)
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
    run_state_machine_as_test(
        lambda: LedgerMachine(session_loop),
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            report_multiple_bugs=False,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
