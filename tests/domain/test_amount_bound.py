"""The policy's `max_amount` (the MAX_AMOUNT setting) bounds every amount the aggregate takes,
a piece-rate milestone's unitPrice x maxUnits, and a contract's bonuses together."""

from __future__ import annotations

import pytest

from app.domain.commands import NewMilestone, PayBonus, ReleaseMilestone
from app.domain.contract import Contract
from app.domain.errors import DomainError, ErrorCode
from app.domain.policy import Policy
from app.domain.requests import ChangeAction
from tests.domain.builders import (
    CLIENT,
    NOW,
    active,
    cents,
    change,
    fund,
    offer_of,
    pay_bonus,
    proposal,
    refused,
)

SMALL = Policy(max_amount=1_000_00)


def _offer(*milestones: NewMilestone) -> DomainError:
    with pytest.raises(DomainError) as caught:
        command = offer_of(*milestones, title="Website", description=None)
        Contract.offer(command, client_id=CLIENT.user_id, policy=SMALL, now=NOW)
    return caught.value


def _codes(error: DomainError) -> list[tuple[ErrorCode, tuple[str, ...] | None]]:
    return [(p.code, p.field) for p in error.problems]


def test_a_milestone_above_the_policys_maximum_is_invalid() -> None:
    error = _offer(
        NewMilestone(title="Fixed", amount=cents("1000.01")),
        NewMilestone(title="Units", unit_price=cents("10.01"), max_units=100),
    )

    assert _codes(error) == [
        (ErrorCode.INVALID_AMOUNT, ("milestones", "0", "amount")),
        (ErrorCode.INVALID_AMOUNT, ("milestones", "1", "amount")),
    ]


def test_a_change_to_a_piece_rate_above_the_maximum_is_invalid() -> None:
    contract = active("100.00", "50.00", policy=SMALL)
    draft = change(ChangeAction.UPDATE, milestone_id=2, unit_price="5.00", max_units=201)

    error = refused(contract, lambda: contract.propose_changes(CLIENT, proposal(draft)))

    assert _codes(error) == [(ErrorCode.INVALID_AMOUNT, ("changes", "0", "amount"))]


def test_a_release_and_a_bonus_above_the_maximum_are_invalid() -> None:
    contract = active("100.00", policy=SMALL)
    fund(contract)
    pay_bonus(contract, "999.99")

    release = ReleaseMilestone(milestone_id=1, amount=cents("1000.01"))
    over_release = refused(contract, lambda: contract.release(CLIENT, release))
    bonus = PayBonus(contract_id=1, amount=cents("0.02"))
    over_bonus = refused(contract, lambda: contract.pay_bonus(CLIENT, bonus))
    pay_bonus(contract, "0.01")

    assert _codes(over_release) == [(ErrorCode.INVALID_AMOUNT, ("amount",))]
    assert _codes(over_bonus) == [(ErrorCode.INVALID_AMOUNT, ("amount",))]
