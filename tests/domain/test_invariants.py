"""Escrow invariants after every step of any sequence of actions
(docs/concepts.md#escrow-funding-and-rollover).

Hypothesis drives a contract through random actions by random people with random amounts.
After every accepted step the builders' `assert_invariants` holds (totalFunded = totalReleased
+ totalRefunded + held, held >= 0, available >= 0, funded >= released + refunded for every
milestone, the ledger balances, events numbered without gaps); a refused step changes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.commands import (
    DeclineContract,
    EndContract,
    OpenDispute,
    PayBonus,
    ReleaseMilestone,
    RequestRefund,
    RequestRevision,
    ResolveDispute,
    RespondToRefundRequest,
    SubmitMilestone,
)
from app.domain.contract import Contract
from app.domain.errors import DomainError
from app.domain.ledger import Account, EntryKind, balances
from app.domain.permissions import Actor, ContractStatus
from tests.domain.builders import (
    ADMIN,
    CLIENT,
    EVERYONE,
    FREELANCER,
    OUTSIDER,
    assert_invariants,
    offered,
    piece_rate_offer,
)

amounts = st.integers(min_value=1, max_value=200_00)  # cents
maybe_amounts = st.none() | amounts
# None: the party whose action it is; now and then anyone at all, to hit the refusals too.
who = st.sampled_from([None] * 6 + list(EVERYONE))

OWNER = {
    "accept": FREELANCER,
    "decline": FREELANCER,
    "end": CLIENT,
    "fund": CLIENT,
    "submit": FREELANCER,
    "revise": CLIENT,
    "release": CLIENT,
    "bonus": CLIENT,
    "refund": CLIENT,
    "answer refund": FREELANCER,
    "dispute": FREELANCER,
    "complete": CLIENT,
}

working = st.one_of(
    st.tuples(st.just("fund"), who, st.none() | st.integers(min_value=1, max_value=4)),
    st.tuples(st.just("submit"), who, maybe_amounts, st.integers(min_value=1, max_value=4)),
    st.tuples(st.just("revise"), who),
    st.tuples(st.just("release"), who, maybe_amounts, st.booleans()),
)
closing = st.one_of(
    st.tuples(st.just("end"), st.sampled_from([None, CLIENT, FREELANCER, OUTSIDER])),
    st.tuples(st.just("decline"), who),
)
rarer = st.one_of(
    st.tuples(st.just("accept"), who),
    st.tuples(st.just("bonus"), who, amounts),
    st.tuples(st.just("refund"), who, maybe_amounts),
    st.tuples(st.just("answer refund"), who, st.booleans()),
    st.tuples(st.just("dispute"), who),
    st.tuples(st.just("resolve"), st.integers(min_value=0, max_value=100)),
    st.tuples(st.just("wait"), st.integers(min_value=0, max_value=20)),
    st.tuples(st.just("complete"), who),
    closing,
)
# The next step of the ordinary life of the contract, to get far into it.
progress = st.tuples(st.just("progress"), maybe_amounts, st.integers(min_value=1, max_value=4))
operations = st.integers(min_value=0, max_value=9).flatmap(
    lambda n: progress if n < 3 else working if n < 6 else rarer
)


def _current(contract: Contract) -> int:
    """The active milestone, else the first one not funded, else milestone 1."""
    active = contract.active_milestone
    if active is None:
        active = next((m for m in contract.milestones if m.status == "NOT_FUNDED"), None)
    return active.id if active is not None and active.id is not None else 1


def _action(contract: Contract, op: tuple) -> Callable[[], object]:  # type: ignore[type-arg]
    name, *args = op
    if name in OWNER and args[0] is None:
        args[0] = OWNER[name]
    m = _current(contract)
    if name == "progress":
        status = contract.milestone(m).status
        if contract.status is ContractStatus.OFFERED:
            name, args = "accept", [FREELANCER]
        elif status in ("FUNDED", "REVISION_REQUESTED"):
            name, args = "submit", [FREELANCER, args[0], args[1]]
        elif status == "SUBMITTED":
            piece_rate = contract.milestone(m).is_piece_rate
            name, args = "release", [CLIENT, None if piece_rate else args[0], False]
        elif status == "DISPUTED":
            name, args = "resolve", [50]
        else:
            name, args = "fund", [CLIENT, None]
    match name:
        case "accept":
            return lambda: contract.accept(args[0])
        case "decline":
            return lambda: contract.decline(args[0], DeclineContract(contract_id=1))
        case "end":
            return lambda: contract.end(args[0], EndContract(contract_id=1))
        case "fund":
            return lambda: contract.fund(args[0], args[1] or m)
        case "submit":
            # A piece-rate submission gives units (its amount follows); a fixed-price one not.
            piece_rate = contract.milestone(m).is_piece_rate
            submission = SubmitMilestone(
                milestone_id=m,
                requested_amount=None if piece_rate else args[1],
                units=args[2] if piece_rate else None,
            )
            return lambda: contract.submit(args[0], submission)
        case "complete":
            return lambda: contract.complete(args[0], m)
        case "revise":
            return lambda: contract.request_revision(args[0], RequestRevision(milestone_id=m))
        case "release":
            release = ReleaseMilestone(milestone_id=m, amount=args[1], end_contract=args[2])
            return lambda: contract.release(args[0], release)
        case "bonus":
            return lambda: contract.pay_bonus(args[0], PayBonus(contract_id=1, amount=args[1]))
        case "refund":

            def ask() -> None:
                contract.request_refund(args[0], RequestRefund(milestone_id=m, amount=args[1]))
                contract.refunds[-1].id = len(contract.refunds)

            return ask
        case "answer refund":
            answer = RespondToRefundRequest(
                refund_request_id=len(contract.refunds), approve=args[1]
            )
            return lambda: contract.answer_refund(args[0], answer)
        case "dispute":

            def open_() -> None:
                contract.open_dispute(args[0], OpenDispute(milestone_id=m, reason="Disagree"))
                contract.disputes[-1].id = len(contract.disputes)

            return open_
        case "resolve":
            remaining = contract.milestone(m).remaining
            to_freelancer = remaining * args[0] // 100
            split = ResolveDispute(
                dispute_id=len(contract.disputes),
                freelancer_amount=to_freelancer,
                client_amount=remaining - to_freelancer,
            )
            return lambda: contract.resolve_dispute(ADMIN, split)
        case "wait":

            def wait() -> None:
                contract.now += timedelta(days=args[0])
                contract.apply_deadlines()

            return wait
    raise AssertionError(name)


def _snapshot(contract: Contract) -> object:
    return copy.deepcopy((contract, [m.latest_submission for m in contract.milestones]))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(["100.00", "50.00", "5.00", "33.33"]), min_size=1, max_size=4),
    st.booleans(),
    st.booleans(),
    st.lists(operations, min_size=5, max_size=40),
)
def test_the_escrow_invariants_hold_after_every_step(
    milestones: list[str],
    piece_rate: bool,
    accepted: bool,
    ops: list,  # type: ignore[type-arg]
) -> None:
    # Milestone 1 of the piece-rate offer is 10 units of 10.00, then 50.00 and 25.00.
    contract = piece_rate_offer() if piece_rate else offered(*milestones)
    if accepted:
        contract.accept(FREELANCER)
    closed_from_offer = False
    for op in ops:
        was_offered = contract.status is ContractStatus.OFFERED
        before = _snapshot(contract)
        try:
            _action(contract, op)()
        except DomainError:
            assert _snapshot(contract) == before, f"refused {op} changed the contract"
            continue
        assert_invariants(contract)
        if was_offered and contract.status in (ContractStatus.DECLINED, ContractStatus.ENDED):
            closed_from_offer = True

    ledger = contract.ledger
    if contract.status in (ContractStatus.DECLINED, ContractStatus.ENDED):
        # Every escrowed cent went back or was released.
        assert ledger.held == 0
        if ledger.total_released == 0:
            assert ledger.fee_outstanding(EntryKind.INITIATION_FEE) == 0
    if closed_from_offer:
        # docs/concepts.md: a declined or withdrawn offer refunds everything, fees included.
        assert balances(contract.entries) == dict.fromkeys(Account, 0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["fund", "release"]), maybe_amounts), max_size=30))
def test_funding_and_releasing_in_any_amounts_keeps_escrow_whole(ops: list) -> None:  # type: ignore[type-arg]
    # A denser walk of the money paths alone: rollover, top-ups on release, and a final end.
    contract = offered("100.00", "20.00", "50.00", "5.00", "75.00")
    contract.accept(FREELANCER)
    next_to_fund = 1
    for name, amount in ops:
        if name == "fund" and next_to_fund <= len(contract.milestones):
            if contract.active_milestone is None:
                contract.fund(CLIENT, next_to_fund)
                next_to_fund += 1
        elif name == "release" and contract.active_milestone is not None:
            contract.release(
                CLIENT, ReleaseMilestone(milestone_id=_current(contract), amount=amount)
            )
        assert_invariants(contract)
    # The client may not end with a funded milestone; the freelancer may.
    ender: Actor = FREELANCER if contract.active_milestone is not None else CLIENT
    contract.end(ender, EndContract(contract_id=1))
    assert_invariants(contract)
    assert contract.ledger.held == 0
