"""The policy's `max_amount` (the MAX_AMOUNT setting) bounds every amount the aggregate parses,
a piece-rate milestone's unitPrice x maxUnits, and a contract's bonuses together."""

from __future__ import annotations

import pytest

from app.domain.changes import ChangeDraft
from app.domain.contract import Contract
from app.domain.errors import DomainError, ErrorCode
from app.domain.milestones import MilestoneDraft
from app.domain.policy import Policy
from app.domain.requests import ChangeAction
from tests.domain.builders import CLIENT, FREELANCER, NOW, active, fund, pay_bonus, refused

SMALL = Policy(max_amount=1_000_00)


def _offer(*milestones: MilestoneDraft) -> DomainError:
    with pytest.raises(DomainError) as caught:
        Contract.offer(
            client_id=CLIENT.user_id,
            freelancer_id=FREELANCER.user_id,
            title="Website",
            description=None,
            currency=None,
            milestones=list(milestones),
            policy=SMALL,
            now=NOW,
        )
    return caught.value


def _codes(error: DomainError) -> list[tuple[ErrorCode, tuple[str, ...] | None]]:
    return [(p.code, p.field) for p in error.problems]


def test_a_milestone_above_the_policys_maximum_is_invalid() -> None:
    error = _offer(
        MilestoneDraft(title="Fixed", amount="1000.01"),
        MilestoneDraft(title="Units", unit_price="10.01", max_units=100),
    )

    assert _codes(error) == [
        (ErrorCode.INVALID_AMOUNT, ("milestones", "0", "amount")),
        (ErrorCode.INVALID_AMOUNT, ("milestones", "1", "amount")),
    ]


def test_a_change_to_a_piece_rate_above_the_maximum_is_invalid() -> None:
    contract = active("100.00", "50.00", policy=SMALL)
    draft = ChangeDraft(
        action=ChangeAction.UPDATE, milestone_id=2, unit_price="5.00", max_units=201
    )

    error = refused(contract, lambda: contract.propose_changes(CLIENT, [draft], None))

    assert _codes(error) == [(ErrorCode.INVALID_AMOUNT, ("changes", "0", "amount"))]


def test_a_release_and_a_bonus_above_the_maximum_are_invalid() -> None:
    contract = active("100.00", policy=SMALL)
    fund(contract)
    pay_bonus(contract, "999.99")

    over_release = refused(
        contract, lambda: contract.release(CLIENT, 1, amount="1000.01", end_contract=False)
    )
    over_bonus = refused(contract, lambda: contract.pay_bonus(CLIENT, "0.02", None))
    pay_bonus(contract, "0.01")

    assert _codes(over_release) == [(ErrorCode.INVALID_AMOUNT, ("amount",))]
    assert _codes(over_bonus) == [(ErrorCode.INVALID_AMOUNT, ("amount",))]
