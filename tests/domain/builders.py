"""Contracts in a given state, reached through the aggregate's own actions.

Ids are what the repository would assign: the contract is 1 and its milestones 1..n by
position. Amounts in the tests are integer cents written with an underscore: `100_00` is
100.00; the helpers that take an amount as text read it as the GraphQL edge does (`cents`),
and `reject` gives a command what the edge hands on for one it cannot read. Every step taken
through the helpers below checks the escrow invariants afterwards, and `refused` checks that a
refused action changed nothing.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from app.domain.commands import (
    CreateContract,
    DeclineContract,
    EndContract,
    NewMilestone,
    OpenDispute,
    PayBonus,
    ProposeMilestoneChanges,
    ReleaseMilestone,
    RequestRefund,
    RequestRevision,
    ResolveDispute,
    RespondToRefundRequest,
    SubmitMilestone,
)
from app.domain.contract import Contract
from app.domain.errors import DomainError, Problem
from app.domain.events import Event
from app.domain.ledger import Account, Entry, EntryKind, balances
from app.domain.milestones import MilestoneStatus
from app.domain.money import read_amount
from app.domain.permissions import Action, Actor, ContractStatus
from app.domain.policy import Policy
from app.domain.requests import ChangeAction, MilestoneChange

R = TypeVar("R", NewMilestone, MilestoneChange)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

CLIENT = Actor(1)
FREELANCER = Actor(2)
OUTSIDER = Actor(3)
ADMIN = Actor(4, is_admin=True)
EVERYONE = (CLIENT, FREELANCER, OUTSIDER, ADMIN)
NAMES = {CLIENT: "client", FREELANCER: "freelancer", OUTSIDER: "outsider", ADMIN: "admin"}

DEFAULT_AMOUNTS = ("100.00", "50.00", "25.00")


# --- amounts as text ---------------------------------------------------------------------


def cents(text: str) -> int:
    return read_amount(text)


def maybe_cents(text: str | None) -> int | None:
    return read_amount(text) if text is not None else None


def unreadable(text: str, *path: str) -> tuple[Problem, ...]:
    """What the GraphQL edge puts in a command's `rejected` for an amount it cannot read."""
    with pytest.raises(DomainError) as caught:
        read_amount(text, path)
    return caught.value.problems


def typed(record: type[R], path: tuple[str, ...], rejected: list[Problem], **values: Any) -> R:
    """A milestone record as a client typed it, read as the GraphQL edge reads it: the amounts
    (`amount`, `unit_price`) are given as text; one it cannot read becomes a placeholder, its
    problem added to `rejected`."""
    for name in ("amount", "unit_price"):
        text = values.get(name)
        if isinstance(text, str):
            try:
                values[name] = read_amount(text, (*path, name))
            except DomainError as error:
                values[name] = 0
                rejected.extend(error.problems)
    return record(**values)


def reject(text: str, *path: str) -> dict[str, Any]:
    """A command's keywords for an amount text the edge cannot read: a placeholder value and
    the problem, as `app.graphql.commands` builds them."""
    return {path[-1]: 0, "rejected": unreadable(text, *path)}


# --- invariants ---------------------------------------------------------------------------


def assert_invariants(contract: Contract) -> None:
    """What must hold after every step (docs/concepts.md,
    docs/concepts.md#escrow-funding-and-rollover)."""
    ledger = contract.ledger
    # held is defined by the first line; the entries' own balances below give it substance.
    assert ledger.total_funded == ledger.total_released + ledger.total_refunded + ledger.held
    assert ledger.held >= 0
    assert contract.available >= 0
    for milestone in contract.milestones:
        assert milestone.funded_amount >= milestone.released_amount + milestone.refunded_amount
    assert sum(m.is_active for m in contract.milestones) <= 1
    # Each milestone's figures are the sums of the entries recorded against it.
    for milestone in contract.milestones:
        mine = [e for e in contract.entries if e.milestone_id == milestone.id]
        assert milestone.released_amount == sum(
            e.amount for e in mine if e.kind is EntryKind.RELEASE
        )
        assert milestone.refunded_amount == sum(
            e.amount for e in mine if e.kind is EntryKind.REFUND
        )
        if milestone.is_piece_rate:
            assert 0 <= milestone.units_released <= (milestone.max_units or 0)
    # The contracts built here record every entry since the offer, so the running totals
    # and the entries' own balances must tell the same story.
    accounts = balances(contract.entries)
    assert sum(accounts.values()) == 0
    assert accounts[Account.ESCROW] == ledger.held
    assert [e.sequence for e in contract.events] == list(range(1, len(contract.events) + 1))
    if contract.status in (ContractStatus.DECLINED, ContractStatus.ENDED):
        assert ledger.held == 0
        assert all(
            m.status
            in (MilestoneStatus.RELEASED, MilestoneStatus.REFUNDED, MilestoneStatus.CANCELLED)
            for m in contract.milestones
        )


def _state(contract: Contract) -> tuple[Any, ...]:
    return (contract, [m.latest_submission for m in contract.milestones])


def refused(contract: Contract, action: Callable[[], object]) -> DomainError:
    """Run an action that must be refused; return the refusal, check nothing changed."""
    before = copy.deepcopy(_state(contract))
    with pytest.raises(DomainError) as caught:
        action()
    assert _state(contract) == before, "a refused action changed the contract"
    return caught.value


# --- steps --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """What one action recorded."""

    entries: list[Entry]
    events: list[Event]


def lines(entries: Iterable[Entry]) -> Counter[tuple[str, int]]:
    """Entries as (kind, amount) pairs, order aside; a fee refund names its fee."""
    return Counter(
        (f"FEE_REFUND {e.refunded_fee}" if e.refunded_fee else str(e.kind), e.amount)
        for e in entries
    )


def tally(*pairs: tuple[str, int]) -> Counter[tuple[str, int]]:
    return Counter(pairs)


def step(contract: Contract, action: Callable[[], object]) -> Step:
    entries, events = len(contract.entries), len(contract.events)
    action()
    assert_invariants(contract)
    return Step(contract.entries[entries:], contract.events[events:])


def accept(contract: Contract) -> Step:
    return step(contract, lambda: contract.accept(FREELANCER))


def decline(contract: Contract, reason: str | None = None) -> Step:
    return step(
        contract,
        lambda: contract.decline(FREELANCER, DeclineContract(contract_id=1, reason=reason)),
    )


def end(contract: Contract, by: Actor = CLIENT, reason: str | None = None) -> Step:
    return step(contract, lambda: contract.end(by, EndContract(contract_id=1, reason=reason)))


def fund(contract: Contract, milestone_id: int = 1) -> Step:
    return step(contract, lambda: contract.fund(CLIENT, milestone_id))


def submit(
    contract: Contract,
    milestone_id: int = 1,
    requested_amount: str | None = None,
    *,
    units: int | None = None,
) -> Step:
    return step(
        contract,
        lambda: contract.submit(
            FREELANCER,
            SubmitMilestone(
                milestone_id=milestone_id,
                message="Here is the work",
                attachments=("https://example.com/work.zip",),
                requested_amount=maybe_cents(requested_amount),
                units=units,
            ),
        ),
    )


def request_revision(contract: Contract, milestone_id: int = 1) -> Step:
    command = RequestRevision(milestone_id=milestone_id, message="Not yet")
    return step(contract, lambda: contract.request_revision(CLIENT, command))


def release(
    contract: Contract,
    milestone_id: int = 1,
    amount: str | None = None,
    *,
    end_contract: bool = False,
) -> Step:
    command = ReleaseMilestone(
        milestone_id=milestone_id, amount=maybe_cents(amount), end_contract=end_contract
    )
    return step(contract, lambda: contract.release(CLIENT, command))


def pay_bonus(contract: Contract, amount: str) -> Step:
    command = PayBonus(contract_id=1, amount=cents(amount), note="Thanks")
    return step(contract, lambda: contract.pay_bonus(CLIENT, command))


def request_refund(contract: Contract, milestone_id: int = 1, amount: str | None = None) -> int:
    """The client asks for a refund; returns the request's id (as the repository would)."""
    command = RequestRefund(
        milestone_id=milestone_id, amount=maybe_cents(amount), reason="Not needed"
    )
    step(contract, lambda: contract.request_refund(CLIENT, command))
    request = contract.refunds[-1]
    request.id = len(contract.refunds)
    return request.id


def answer_refund(contract: Contract, refund_id: int, *, approve: bool) -> Step:
    command = RespondToRefundRequest(refund_request_id=refund_id, approve=approve)
    return step(contract, lambda: contract.answer_refund(FREELANCER, command))


def open_dispute(contract: Contract, milestone_id: int = 1, by: Actor = CLIENT) -> int:
    """A party opens a dispute; returns its id (as the repository would)."""
    command = OpenDispute(milestone_id=milestone_id, reason="The work is not done")
    step(contract, lambda: contract.open_dispute(by, command))
    dispute = contract.disputes[-1]
    dispute.id = len(contract.disputes)
    return dispute.id


def propose_changes(contract: Contract, by: Actor = CLIENT) -> int:
    """A party proposes to rename milestone 2; returns the request's id."""
    step(contract, lambda: contract.propose_changes(by, proposal(rename(2), message="Rename")))
    request = contract.change_requests[-1]
    request.id = len(contract.change_requests)
    return request.id


def attempt(
    contract: Contract, action: Action, actor: Actor, milestone_id: int = 1, target: int = 1
) -> None:
    """Take `action` as `actor` with valid input, straight on the aggregate.

    `target` is the refund request, dispute or change request that an answer acts on.
    """
    milestone = contract.milestone(milestone_id) if contract.milestones else None
    units = 1 if milestone is not None and milestone.is_piece_rate else None
    match action:
        case Action.ACCEPT:
            contract.accept(actor)
        case Action.DECLINE:
            contract.decline(actor, DeclineContract(contract_id=1))
        case Action.END:
            contract.end(actor, EndContract(contract_id=1))
        case Action.FUND:
            contract.fund(actor, milestone_id)
        case Action.SUBMIT:
            contract.submit(
                actor,
                SubmitMilestone(milestone_id=milestone_id, message="Here is the work", units=units),
            )
        case Action.REQUEST_REVISION:
            contract.request_revision(
                actor, RequestRevision(milestone_id=milestone_id, message="Not yet")
            )
        case Action.RELEASE:
            contract.release(actor, ReleaseMilestone(milestone_id=milestone_id))
        case Action.COMPLETE:
            contract.complete(actor, milestone_id)
        case Action.PAY_BONUS:
            contract.pay_bonus(actor, PayBonus(contract_id=1, amount=10_00))
        case Action.REQUEST_REFUND:
            contract.request_refund(
                actor, RequestRefund(milestone_id=milestone_id, reason="Not needed")
            )
        case Action.ANSWER_REFUND:
            contract.answer_refund(
                actor, RespondToRefundRequest(refund_request_id=target, approve=False)
            )
        case Action.OPEN_DISPUTE:
            contract.open_dispute(
                actor, OpenDispute(milestone_id=milestone_id, reason="The work is not done")
            )
        case Action.WITHDRAW_DISPUTE:
            contract.withdraw_dispute(actor, target)
        case Action.RESOLVE_DISPUTE:
            remaining = contract.milestone(milestone_id).remaining
            contract.resolve_dispute(
                actor,
                ResolveDispute(dispute_id=target, freelancer_amount=remaining, client_amount=0),
            )
        case Action.PROPOSE_CHANGES:
            contract.propose_changes(actor, proposal(rename(2)))
        case Action.ANSWER_CHANGES:
            contract.accept_change_request(actor, target)
        case _:
            raise AssertionError(f"no way to attempt {action}")


# --- contracts ----------------------------------------------------------------------------


def drafts(*amounts: str) -> list[NewMilestone]:
    return [NewMilestone(title=f"Milestone {i}", amount=cents(a)) for i, a in enumerate(amounts, 1)]


def offer_of(
    *milestones: NewMilestone,
    title: str = "A new website",
    description: str | None = "Design and build",
    currency: str | None = None,
    freelancer_id: int = FREELANCER.user_id,
    rejected: tuple[Problem, ...] = (),
) -> CreateContract:
    return CreateContract(
        freelancer_id=freelancer_id,
        title=title,
        description=description,
        currency=currency,
        milestones=milestones,
        rejected=rejected,
    )


def change(action: ChangeAction, **values: Any) -> MilestoneChange:
    """A proposed change with its amounts given as text (each one the edge can read)."""
    rejected: list[Problem] = []
    proposed = typed(MilestoneChange, ("changes",), rejected, action=action, **values)
    assert not rejected, rejected
    return proposed


def rename(milestone_id: int, title: str = "Renamed") -> MilestoneChange:
    return MilestoneChange(action=ChangeAction.UPDATE, milestone_id=milestone_id, title=title)


def proposal(
    *changes: MilestoneChange, message: str | None = None, rejected: tuple[Problem, ...] = ()
) -> ProposeMilestoneChanges:
    return ProposeMilestoneChanges(
        contract_id=1, message=message, changes=changes, rejected=rejected
    )


def _stored(contract: Contract) -> Contract:
    """Give the new contract the ids the repository would."""
    contract.id = 1
    for i, milestone in enumerate(contract.milestones, 1):
        milestone.id = i
    assert_invariants(contract)
    return contract


def offered(*amounts: str, policy: Policy | None = None) -> Contract:
    """A fresh offer with one milestone per amount (three by default)."""
    contract = Contract.offer(
        offer_of(*drafts(*(amounts or DEFAULT_AMOUNTS))),
        client_id=CLIENT.user_id,
        policy=policy or Policy(),
        now=NOW,
    )
    return _stored(contract)


def active(*amounts: str, policy: Policy | None = None) -> Contract:
    contract = offered(*amounts, policy=policy)
    accept(contract)
    return contract


def in_status(status: ContractStatus) -> Contract:
    contract = offered()
    match status:
        case ContractStatus.ACTIVE:
            accept(contract)
        case ContractStatus.DECLINED:
            decline(contract)
        case ContractStatus.ENDED:
            accept(contract)
            end(contract, CLIENT)
    assert contract.status is status
    return contract


def piece_rate_offer(unit_price: str = "10.00", max_units: int = 10) -> Contract:
    """An offer whose milestone 1 is piece-rate, followed by two fixed-price ones."""
    pages = NewMilestone(title="Pages", unit_price=cents(unit_price), max_units=max_units)
    contract = Contract.offer(
        offer_of(
            pages, *drafts(*DEFAULT_AMOUNTS[1:]), title="Translations", description="Per page"
        ),
        client_id=CLIENT.user_id,
        policy=Policy(),
        now=NOW,
    )
    return _stored(contract)


def with_first_milestone(
    status: MilestoneStatus, *amounts: str, piece_rate: bool = False
) -> Contract:
    """An ACTIVE contract whose milestone 1 is in `status` and the others NOT_FUNDED.

    Milestone 1 is piece-rate (10 units of 10.00) when asked, and always for CANCELLED: on an
    ACTIVE contract only a piece-rate milestone completed with no unit paid gets there.
    """
    piece_rate = piece_rate or status is MilestoneStatus.CANCELLED
    contract = piece_rate_offer() if piece_rate else offered(*amounts)
    accept(contract)
    first = contract.milestones[0]
    units = first.max_units if piece_rate else None
    match status:
        case MilestoneStatus.FUNDED:
            fund(contract)
        case MilestoneStatus.SUBMITTED:
            fund(contract)
            submit(contract, units=units)
        case MilestoneStatus.REVISION_REQUESTED:
            fund(contract)
            submit(contract, units=units)
            request_revision(contract)
        case MilestoneStatus.RELEASED:
            fund(contract)
            if piece_rate:
                submit(contract, units=units)
            release(contract)
        case MilestoneStatus.DISPUTED:
            fund(contract)
            open_dispute(contract)
        case MilestoneStatus.REFUNDED:
            fund(contract)
            answer_refund(contract, request_refund(contract), approve=True)
        case MilestoneStatus.CANCELLED:
            fund(contract)
            step(contract, lambda: contract.complete(CLIENT, 1))
    assert first.status is status
    return contract
