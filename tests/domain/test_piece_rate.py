"""Piece-rate milestones: paid per unit delivered (docs/concepts.md, docs/concepts.md#release,
docs/concepts.md#piece-rate-milestones).

Milestone 1 of `piece_rate_offer` is 10 units of 10.00 (100.00 funded).
"""

from __future__ import annotations

import pytest

from app.domain.commands import ReleaseMilestone, SubmitMilestone
from app.domain.contract import Contract
from app.domain.errors import ErrorCode
from app.domain.milestones import MilestoneStatus
from tests.domain.builders import (
    CLIENT,
    FREELANCER,
    accept,
    answer_refund,
    fund,
    lines,
    piece_rate_offer,
    refused,
    release,
    request_refund,
    step,
    submit,
    tally,
)


def funded_piece_rate() -> Contract:
    contract = piece_rate_offer()
    accept(contract)
    fund(contract)
    return contract


def test_funding_a_piece_rate_milestone_funds_its_cap() -> None:
    contract = piece_rate_offer()
    accept(contract)
    moved = fund(contract)
    assert ("FUNDING", 100_00) in lines(moved.entries)
    assert contract.milestones[0].funded_amount == 100_00


@pytest.mark.parametrize(("units", "field"), [(None, "units"), (0, "units"), (11, "units")])
def test_a_piece_rate_submission_needs_units_that_remain(units: int | None, field: str) -> None:
    contract = funded_piece_rate()
    error = refused(
        contract,
        lambda: contract.submit(FREELANCER, SubmitMilestone(milestone_id=1, units=units)),
    )
    assert [(p.code, p.field) for p in error.problems] == [(ErrorCode.INVALID_INPUT, (field,))]


def test_units_do_not_apply_to_a_fixed_price_milestone() -> None:
    contract = funded_piece_rate()
    release_all(contract)
    fund(contract, 2)
    error = refused(
        contract,
        lambda: contract.submit(FREELANCER, SubmitMilestone(milestone_id=2, units=1)),
    )
    assert [(p.code, p.field) for p in error.problems] == [(ErrorCode.INVALID_INPUT, ("units",))]


def test_a_requested_amount_must_match_the_units() -> None:
    contract = funded_piece_rate()
    error = refused(
        contract,
        lambda: contract.submit(
            FREELANCER, SubmitMilestone(milestone_id=1, requested_amount=35_00, units=3)
        ),
    )
    assert error.problems[0].field == ("requested_amount",)


def release_all(contract: Contract) -> None:
    submit(contract, units=10)
    release(contract)


def test_a_release_pays_the_units_delivered_and_keeps_the_milestone_active() -> None:
    # given
    contract = funded_piece_rate()
    submit(contract, units=3)
    # when: no amount, so units x unitPrice (§6.11)
    moved = release(contract)
    # then
    assert lines(moved.entries) == tally(("RELEASE", 30_00), ("SERVICE_FEE", 3_00))
    first = contract.milestones[0]
    assert first.status is MilestoneStatus.FUNDED
    assert (first.units_released, first.released_amount) == (3, 30_00)
    assert contract.available == 0


def test_the_milestone_is_released_once_every_unit_is_paid() -> None:
    contract = funded_piece_rate()
    submit(contract, units=4)
    release(contract)
    submit(contract, units=6)
    release(contract, 1, "60.00")
    first = contract.milestones[0]
    assert first.status is MilestoneStatus.RELEASED
    assert (first.units_released, first.released_amount) == (10, 100_00)
    assert contract.ledger.held == 0


def test_a_piece_rate_release_amount_must_equal_the_units_delivered() -> None:
    # docs/concepts.md#piece-rate-milestones
    contract = funded_piece_rate()
    submit(contract, units=3)
    command = ReleaseMilestone(milestone_id=1, amount=40_00)
    error = refused(contract, lambda: contract.release(CLIENT, command))
    assert error.problems[0].field == ("amount",)


def test_a_piece_rate_milestone_is_released_only_for_submitted_units() -> None:
    # docs/concepts.md#piece-rate-milestones: a release needs the milestone SUBMITTED.
    contract = funded_piece_rate()
    error = refused(contract, lambda: contract.release(CLIENT, ReleaseMilestone(milestone_id=1)))
    assert error.code is ErrorCode.INVALID_STATE


def test_completing_after_some_units_leaves_it_released_and_the_rest_available() -> None:
    contract = funded_piece_rate()
    submit(contract, units=3)
    release(contract)
    moved = step(contract, lambda: contract.complete(CLIENT, 1))
    assert moved.entries == []
    assert contract.milestones[0].status is MilestoneStatus.RELEASED
    assert contract.available == 70_00


def test_completing_before_any_unit_cancels_it_and_makes_the_escrow_available() -> None:
    contract = funded_piece_rate()
    step(contract, lambda: contract.complete(CLIENT, 1))
    assert contract.milestones[0].status is MilestoneStatus.CANCELLED
    assert contract.available == 100_00
    # The next milestone is paid from it (rollover).
    moved = fund(contract, 2)
    assert moved.entries == []


def test_an_approved_refund_of_a_piece_rate_milestone_makes_the_rest_available() -> None:
    # docs/concepts.md#piece-rate-milestones: units not delivered are not paid.
    contract = funded_piece_rate()
    submit(contract, units=2)
    release(contract)
    moved = answer_refund(contract, request_refund(contract, 1, "50.00"), approve=True)
    assert lines(moved.entries) == tally(("REFUND", 50_00))
    assert contract.milestones[0].status is MilestoneStatus.RELEASED
    assert contract.available == 30_00
