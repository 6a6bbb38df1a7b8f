"""Contracts in a given state, reached through the aggregate's own actions.

Ids are what the repository would assign: the contract is 1 and its milestones 1..n by
position. Amounts in the tests are integer cents written with an underscore: `100_00` is
100.00. Every step taken through the helpers below checks the escrow invariants afterwards,
and `refused` checks that a refused action changed nothing.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from app.domain.changes import ChangeDraft
from app.domain.contract import Contract
from app.domain.errors import DomainError
from app.domain.events import Event
from app.domain.ledger import Account, Entry, EntryKind, balances
from app.domain.milestones import MilestoneDraft, MilestoneStatus
from app.domain.money import format_amount
from app.domain.permissions import Action, Actor, ContractStatus
from app.domain.policy import Policy
from app.domain.requests import ChangeAction

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

CLIENT = Actor(1)
FREELANCER = Actor(2)
OUTSIDER = Actor(3)
ADMIN = Actor(4, is_admin=True)
EVERYONE = (CLIENT, FREELANCER, OUTSIDER, ADMIN)
NAMES = {CLIENT: "client", FREELANCER: "freelancer", OUTSIDER: "outsider", ADMIN: "admin"}

DEFAULT_AMOUNTS = ("100.00", "50.00", "25.00")


# --- invariants ---------------------------------------------------------------------------


def assert_invariants(contract: Contract) -> None:
    """What must hold after every step (API.md §1 and §6.1)."""
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
    return step(contract, lambda: contract.decline(FREELANCER, reason))


def end(contract: Contract, by: Actor = CLIENT, reason: str | None = None) -> Step:
    return step(contract, lambda: contract.end(by, reason))


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
            milestone_id,
            message="Here is the work",
            attachments=["https://example.com/work.zip"],
            requested_amount=requested_amount,
            units=units,
        ),
    )


def request_revision(contract: Contract, milestone_id: int = 1) -> Step:
    return step(contract, lambda: contract.request_revision(CLIENT, milestone_id, "Not yet"))


def release(
    contract: Contract,
    milestone_id: int = 1,
    amount: str | None = None,
    *,
    end_contract: bool = False,
) -> Step:
    return step(
        contract,
        lambda: contract.release(CLIENT, milestone_id, amount=amount, end_contract=end_contract),
    )


def pay_bonus(contract: Contract, amount: str) -> Step:
    return step(contract, lambda: contract.pay_bonus(CLIENT, amount, "Thanks"))


def request_refund(contract: Contract, milestone_id: int = 1, amount: str | None = None) -> int:
    """The client asks for a refund; returns the request's id (as the repository would)."""
    step(contract, lambda: contract.request_refund(CLIENT, milestone_id, amount, "Not needed"))
    request = contract.refunds[-1]
    request.id = len(contract.refunds)
    return request.id


def answer_refund(contract: Contract, refund_id: int, *, approve: bool) -> Step:
    return step(
        contract,
        lambda: contract.answer_refund(FREELANCER, refund_id, approve=approve, message=None),
    )


def open_dispute(contract: Contract, milestone_id: int = 1, by: Actor = CLIENT) -> int:
    """A party opens a dispute; returns its id (as the repository would)."""
    step(contract, lambda: contract.open_dispute(by, milestone_id, "The work is not done"))
    dispute = contract.disputes[-1]
    dispute.id = len(contract.disputes)
    return dispute.id


def propose_changes(contract: Contract, by: Actor = CLIENT) -> int:
    """A party proposes to rename milestone 2; returns the request's id."""
    change = ChangeDraft(ChangeAction.UPDATE, milestone_id=2, title="Renamed")
    step(contract, lambda: contract.propose_changes(by, [change], "Rename"))
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
            contract.decline(actor, None)
        case Action.END:
            contract.end(actor, None)
        case Action.FUND:
            contract.fund(actor, milestone_id)
        case Action.SUBMIT:
            contract.submit(
                actor,
                milestone_id,
                message="Here is the work",
                attachments=[],
                requested_amount=None,
                units=units,
            )
        case Action.REQUEST_REVISION:
            contract.request_revision(actor, milestone_id, "Not yet")
        case Action.RELEASE:
            contract.release(actor, milestone_id, amount=None, end_contract=False)
        case Action.COMPLETE:
            contract.complete(actor, milestone_id)
        case Action.PAY_BONUS:
            contract.pay_bonus(actor, "10.00", None)
        case Action.REQUEST_REFUND:
            contract.request_refund(actor, milestone_id, None, "Not needed")
        case Action.ANSWER_REFUND:
            contract.answer_refund(actor, target, approve=False, message=None)
        case Action.OPEN_DISPUTE:
            contract.open_dispute(actor, milestone_id, "The work is not done")
        case Action.WITHDRAW_DISPUTE:
            contract.withdraw_dispute(actor, target)
        case Action.RESOLVE_DISPUTE:
            remaining = contract.milestone(milestone_id).remaining
            contract.resolve_dispute(
                actor,
                target,
                freelancer_amount=format_amount(remaining),
                client_amount="0",
                note=None,
            )
        case Action.PROPOSE_CHANGES:
            change = ChangeDraft(ChangeAction.UPDATE, milestone_id=2, title="Renamed")
            contract.propose_changes(actor, [change], None)
        case Action.ANSWER_CHANGES:
            contract.accept_change_request(actor, target)
        case _:
            raise AssertionError(f"no way to attempt {action}")


# --- contracts ----------------------------------------------------------------------------


def drafts(*amounts: str) -> list[MilestoneDraft]:
    return [MilestoneDraft(title=f"Milestone {i}", amount=a) for i, a in enumerate(amounts, 1)]


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
        client_id=CLIENT.user_id,
        freelancer_id=FREELANCER.user_id,
        title="A new website",
        description="Design and build",
        currency=None,
        milestones=drafts(*(amounts or DEFAULT_AMOUNTS)),
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
    contract = Contract.offer(
        client_id=CLIENT.user_id,
        freelancer_id=FREELANCER.user_id,
        title="Translations",
        description="Per page",
        currency=None,
        milestones=[
            MilestoneDraft(title="Pages", unit_price=unit_price, max_units=max_units),
            *drafts(*DEFAULT_AMOUNTS[1:]),
        ],
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
