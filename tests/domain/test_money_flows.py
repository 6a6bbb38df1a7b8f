"""Money through escrow, with the examples of docs/concepts.md and docs/rules.md.

Every step goes through the builders, which check after it that totalFunded = totalReleased +
totalRefunded + held, that held and available are never negative, and that no milestone has
paid out more than was put behind it.
"""

from __future__ import annotations

import pytest

from app.domain.commands import (
    EndContract,
    PayBonus,
    ReleaseMilestone,
    RequestRefund,
    ResolveDispute,
    RespondToRefundRequest,
)
from app.domain.errors import ErrorCode
from app.domain.events import EventType
from app.domain.ledger import Account, EntryKind, balances
from app.domain.milestones import MilestoneStatus
from app.domain.permissions import Actor, ContractStatus
from tests.domain.builders import (
    ADMIN,
    CLIENT,
    FREELANCER,
    active,
    answer_refund,
    cents,
    decline,
    end,
    fund,
    lines,
    offered,
    open_dispute,
    pay_bonus,
    refused,
    reject,
    release,
    request_refund,
    request_revision,
    step,
    submit,
    tally,
    with_first_milestone,
)

# --- funding ------------------------------------------------------------------------------


def test_funding_charges_the_amount_the_processing_fee_and_the_initiation_fee() -> None:
    # docs/concepts.md#fees: funding 100.00 charges 100.00 + 3.00 + 4.95.
    contract = active("100.00", "50.00")
    moved = fund(contract)
    assert lines(moved.entries) == tally(
        ("FUNDING", 100_00), ("PROCESSING_FEE", 3_00), ("INITIATION_FEE", 4_95)
    )
    assert contract.milestones[0].funded_amount == 100_00
    assert contract.ledger.held == 100_00
    assert contract.available == 0
    assert balances(contract.entries)[Account.CLIENT] == -107_95


def test_the_initiation_fee_comes_only_with_the_first_funding() -> None:
    contract = active("100.00", "50.00")
    fund(contract)
    release(contract)
    moved = fund(contract, 2)
    assert lines(moved.entries) == tally(("FUNDING", 50_00), ("PROCESSING_FEE", 1_50))


def test_funding_the_first_milestone_of_an_offer_charges_the_initiation_fee_once() -> None:
    contract = offered("100.00", "50.00")
    fund(contract)
    step(contract, lambda: contract.accept(FREELANCER))
    release(contract)
    fund(contract, 2)
    assert [e.kind for e in contract.entries].count(EntryKind.INITIATION_FEE) == 1


def test_a_processing_fee_rounds_half_up_to_the_cent() -> None:
    # docs/concepts.md#fees: 3 % of 0.50 is 0.02. 40.00 rolls over, so funding 40.50 charges 0.50.
    contract = active("100.00", "40.50")
    fund(contract)
    release(contract, 1, "60.00")
    moved = fund(contract, 2)
    assert lines(moved.entries) == tally(("FUNDING", 50), ("PROCESSING_FEE", 2))


# --- partial release and rollover ----------------------------------------------------------


def test_a_partial_release_leaves_the_rest_available() -> None:
    # given
    contract = active("100.00", "50.00")
    fund(contract)
    # when
    moved = release(contract, 1, "60.00")
    # then
    assert lines(moved.entries) == tally(("RELEASE", 60_00), ("SERVICE_FEE", 6_00))
    first = contract.milestones[0]
    assert first.status is MilestoneStatus.RELEASED
    assert (first.funded_amount, first.released_amount, first.refunded_amount) == (100_00, 60_00, 0)
    assert contract.ledger.held == 40_00
    assert contract.available == 40_00


def test_the_next_funding_uses_available_escrow_first_and_charges_the_difference() -> None:
    # docs/concepts.md#the-ledger: with rollover, FUNDING is only the charged difference.
    contract = active("100.00", "50.00")
    fund(contract)
    release(contract, 1, "60.00")
    moved = fund(contract, 2)
    assert lines(moved.entries) == tally(("FUNDING", 10_00), ("PROCESSING_FEE", 30))
    # §6.36: fundedAmount and MILESTONE_FUNDED.amount are the whole allocation.
    assert contract.milestones[1].funded_amount == 50_00
    assert [(e.type, e.amount) for e in moved.events] == [(EventType.MILESTONE_FUNDED, 50_00)]
    assert contract.available == 0


def test_no_funding_entry_when_available_escrow_covers_the_milestone() -> None:
    contract = active("100.00", "30.00")
    fund(contract)
    release(contract, 1, "60.00")
    moved = fund(contract, 2)
    assert moved.entries == []
    assert contract.milestones[1].funded_amount == 30_00
    assert [(e.type, e.amount) for e in moved.events] == [(EventType.MILESTONE_FUNDED, 30_00)]
    assert contract.available == 10_00
    assert contract.ledger.held == 40_00


# --- releasing more than funded -------------------------------------------------------------


def test_releasing_more_than_funded_charges_the_difference_then_releases_the_whole() -> None:
    # docs/concepts.md#release: a FUNDING with its PROCESSING_FEE, then one RELEASE of the whole
    # amount.
    contract = active("100.00", "50.00")
    fund(contract)
    moved = release(contract, 1, "150.00")
    assert [(e.kind, e.amount) for e in moved.entries] == [
        (EntryKind.FUNDING, 50_00),
        (EntryKind.PROCESSING_FEE, 1_50),
        (EntryKind.RELEASE, 150_00),
        (EntryKind.SERVICE_FEE, 15_00),
    ]
    # §6.36: fundedAmount rises to the amount released.
    first = contract.milestones[0]
    assert (first.funded_amount, first.released_amount) == (150_00, 150_00)
    assert contract.ledger.held == 0


def test_releasing_more_than_funded_uses_available_escrow_before_charging() -> None:
    # given: 40.00 rolled over, 20.00 of it behind milestone 2
    contract = active("100.00", "20.00", "50.00")
    fund(contract)
    release(contract, 1, "60.00")
    fund(contract, 2)
    assert contract.available == 20_00
    # when: 50.00 released on a milestone of 20.00
    moved = release(contract, 2, "50.00")
    # then: 20.00 comes from available, 10.00 is charged
    assert lines(moved.entries) == tally(
        ("FUNDING", 10_00), ("PROCESSING_FEE", 30), ("RELEASE", 50_00), ("SERVICE_FEE", 5_00)
    )
    assert contract.milestones[1].funded_amount == 50_00
    assert contract.available == 0


# --- release fees and defaults --------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "service_fee"), [("100.00", 10_00), ("0.05", 1), ("12.34", 1_23), ("0.15", 2)]
)
def test_a_release_withholds_the_ten_percent_service_fee(amount: str, service_fee: int) -> None:
    contract = with_first_milestone(MilestoneStatus.FUNDED)
    moved = release(contract, 1, amount)
    assert lines(e for e in moved.entries if e.kind is EntryKind.SERVICE_FEE) == tally(
        ("SERVICE_FEE", service_fee)
    )


def test_a_release_too_small_for_a_service_fee_records_no_fee() -> None:
    contract = with_first_milestone(MilestoneStatus.FUNDED)
    moved = release(contract, 1, "0.04")
    assert lines(moved.entries) == tally(("RELEASE", 4))


def test_a_release_of_submitted_work_defaults_to_the_requested_amount() -> None:
    # docs/concepts.md#release
    contract = active()
    fund(contract)
    submit(contract, 1, "80.00")
    release(contract)
    assert contract.milestones[0].released_amount == 80_00
    assert contract.available == 20_00


def test_a_submission_requests_the_funded_amount_by_default() -> None:
    contract = active()
    fund(contract)
    moved = submit(contract)
    assert moved.events[0].amount == 100_00
    release(contract)
    assert contract.milestones[0].released_amount == 100_00


def test_a_release_of_funded_work_defaults_to_the_whole_escrow() -> None:
    contract = with_first_milestone(MilestoneStatus.FUNDED)
    release(contract)
    assert contract.milestones[0].released_amount == 100_00
    assert contract.ledger.held == 0


def test_after_a_revision_request_a_release_defaults_to_the_whole_escrow() -> None:
    # The requested amount belonged to the submission that was sent back.
    contract = active()
    fund(contract)
    submit(contract, 1, "80.00")
    request_revision(contract)
    release(contract)
    assert contract.milestones[0].released_amount == 100_00


def test_a_requested_amount_above_the_funded_one_is_charged_on_release() -> None:
    contract = active()
    fund(contract)
    submit(contract, 1, "120.00")
    moved = release(contract)
    assert lines(moved.entries) == tally(
        ("FUNDING", 20_00), ("PROCESSING_FEE", 60), ("RELEASE", 120_00), ("SERVICE_FEE", 12_00)
    )


# --- bonus ----------------------------------------------------------------------------------


def test_a_bonus_bypasses_escrow_with_both_fees() -> None:
    contract = active()
    moved = pay_bonus(contract, "25.00")
    assert lines(moved.entries) == tally(
        ("BONUS", 25_00), ("PROCESSING_FEE", 75), ("SERVICE_FEE", 2_50)
    )
    assert [(e.type, e.amount, e.actor_id) for e in moved.events] == [
        (EventType.BONUS_PAID, 25_00, CLIENT.user_id)
    ]
    assert contract.ledger.held == 0
    assert contract.ledger.total_funded == 0
    accounts = balances(contract.entries)
    assert accounts[Account.FREELANCER] == 22_50
    assert accounts[Account.CLIENT] == -25_75


def test_a_bonus_is_not_a_release_for_the_initiation_fee() -> None:
    # docs/concepts.md#fees: the initiation fee is refunded when no RELEASE was written; a bonus is
    # not.
    contract = with_first_milestone(MilestoneStatus.FUNDED)
    pay_bonus(contract, "25.00")
    moved = end(contract, FREELANCER)
    assert ("FEE_REFUND INITIATION_FEE", 4_95) in lines(moved.entries)


def test_a_bonus_needs_an_amount() -> None:
    contract = active()
    # The input's amount is required: the edge hands on one it could not read.
    command = PayBonus(contract_id=1, **reject("", "amount"))
    error = refused(contract, lambda: contract.pay_bonus(CLIENT, command))
    assert (error.code, error.problems[0].field) == (ErrorCode.INVALID_AMOUNT, ("amount",))


# --- declining and withdrawing an offer -----------------------------------------------------


def test_declining_an_offer_refunds_the_escrow_and_every_fee() -> None:
    # docs/concepts.md, docs/concepts.md#fees, docs/concepts.md#ending-a-contract
    contract = offered()
    fund(contract)
    moved = decline(contract, "Busy")
    assert lines(moved.entries) == tally(
        ("REFUND", 100_00),
        ("FEE_REFUND INITIATION_FEE", 4_95),
        ("FEE_REFUND PROCESSING_FEE", 3_00),
    )
    assert balances(contract.entries) == dict.fromkeys(Account, 0)
    assert contract.status is ContractStatus.DECLINED
    assert [m.status for m in contract.milestones] == [
        MilestoneStatus.REFUNDED,
        MilestoneStatus.CANCELLED,
        MilestoneStatus.CANCELLED,
    ]
    assert contract.milestones[0].refunded_amount == 100_00


def test_withdrawing_an_offer_refunds_the_escrow_and_every_fee() -> None:
    # docs/concepts.md#ending-a-contract: endContract on an OFFERED contract is always allowed.
    contract = offered()
    fund(contract)
    moved = end(contract, CLIENT)
    assert lines(moved.entries) == tally(
        ("REFUND", 100_00),
        ("FEE_REFUND INITIATION_FEE", 4_95),
        ("FEE_REFUND PROCESSING_FEE", 3_00),
    )
    assert balances(contract.entries) == dict.fromkeys(Account, 0)
    assert contract.status is ContractStatus.ENDED
    assert contract.milestones[0].status is MilestoneStatus.REFUNDED


def test_declining_an_unfunded_offer_moves_no_money_and_cancels_every_milestone() -> None:
    contract = offered()
    moved = decline(contract)
    assert moved.entries == []
    assert {m.status for m in contract.milestones} == {MilestoneStatus.CANCELLED}


# --- ending an active contract --------------------------------------------------------------


def test_the_freelancer_ending_refunds_the_escrow_and_the_initiation_fee_only() -> None:
    # docs/concepts.md#fees: processing fees are refunded only for a declined or withdrawn offer.
    contract = with_first_milestone(MilestoneStatus.FUNDED)
    moved = end(contract, FREELANCER)
    assert lines(moved.entries) == tally(("REFUND", 100_00), ("FEE_REFUND INITIATION_FEE", 4_95))
    assert contract.milestones[0].status is MilestoneStatus.REFUNDED
    assert balances(contract.entries)[Account.CLIENT] == -3_00


def test_the_freelancer_may_end_while_a_revision_is_requested() -> None:
    contract = with_first_milestone(MilestoneStatus.REVISION_REQUESTED)
    moved = end(contract, FREELANCER)
    assert ("REFUND", 100_00) in lines(moved.entries)
    assert contract.status is ContractStatus.ENDED


def test_ending_after_a_release_keeps_the_initiation_fee() -> None:
    contract = active()
    fund(contract)
    release(contract, 1, "60.00")
    fund(contract, 2)
    moved = end(contract, FREELANCER)
    assert lines(moved.entries) == tally(("REFUND", 50_00))
    assert contract.milestones[1].status is MilestoneStatus.REFUNDED


def test_ending_gives_back_available_escrow_and_cancels_unfunded_milestones() -> None:
    # given: 40.00 left over from milestone 1, nothing active
    contract = active()
    fund(contract)
    release(contract, 1, "60.00")
    # when
    moved = end(contract, CLIENT, "Done")
    # then
    assert lines(moved.entries) == tally(("REFUND", 40_00))
    assert [(e.type, e.amount) for e in moved.events] == [(EventType.CONTRACT_ENDED, 40_00)]
    assert [m.status for m in contract.milestones] == [
        MilestoneStatus.RELEASED,
        MilestoneStatus.CANCELLED,
        MilestoneStatus.CANCELLED,
    ]


def test_ending_a_contract_never_funded_moves_no_money() -> None:
    contract = active()
    moved = end(contract, CLIENT)
    assert moved.entries == []


@pytest.mark.parametrize("status", [MilestoneStatus.FUNDED, MilestoneStatus.REVISION_REQUESTED])
def test_the_client_cannot_end_with_a_funded_milestone(status: MilestoneStatus) -> None:
    # docs/concepts.md: release it or request a refund first.
    contract = with_first_milestone(status)
    error = refused(contract, lambda: contract.end(CLIENT, EndContract(contract_id=1)))
    assert error.code is ErrorCode.ACTIVE_MILESTONE_FUNDED


@pytest.mark.parametrize("actor", [CLIENT, FREELANCER], ids=["client", "freelancer"])
@pytest.mark.parametrize("status", [MilestoneStatus.SUBMITTED, MilestoneStatus.DISPUTED])
def test_no_one_may_end_while_a_milestone_is_submitted_or_disputed(
    status: MilestoneStatus, actor: Actor
) -> None:
    # docs/concepts.md#ending-a-contract: INVALID_STATE, checked before ACTIVE_MILESTONE_FUNDED.
    contract = with_first_milestone(status)
    error = refused(contract, lambda: contract.end(actor, EndContract(contract_id=1)))
    assert error.code is ErrorCode.INVALID_STATE


# --- endContract on a release ---------------------------------------------------------------


def test_releasing_the_last_milestone_may_end_the_contract() -> None:
    contract = active("100.00")
    fund(contract)
    moved = release(contract, 1, "60.00", end_contract=True)
    assert contract.status is ContractStatus.ENDED
    assert lines(moved.entries) == tally(
        ("RELEASE", 60_00), ("SERVICE_FEE", 6_00), ("REFUND", 40_00)
    )
    assert [e.type for e in moved.events] == [
        EventType.MILESTONE_RELEASED,
        EventType.CONTRACT_ENDED,
    ]


def test_ending_on_release_after_every_other_milestone_is_done() -> None:
    contract = active("100.00", "50.00")
    fund(contract)
    release(contract)
    fund(contract, 2)
    release(contract, 2, end_contract=True)
    assert contract.status is ContractStatus.ENDED
    assert contract.ledger.held == 0


def test_cannot_end_on_release_while_unfunded_milestones_remain() -> None:
    # docs/concepts.md#release
    contract = with_first_milestone(MilestoneStatus.SUBMITTED)
    command = ReleaseMilestone(milestone_id=1, end_contract=True)
    error = refused(contract, lambda: contract.release(CLIENT, command))
    assert error.code is ErrorCode.INVALID_STATE


# --- refunds and disputes (§6.12, §6.13) ------------------------------------------------------


def test_an_approved_full_refund_returns_the_escrow_to_the_client() -> None:
    contract = with_first_milestone(MilestoneStatus.FUNDED)
    moved = answer_refund(contract, request_refund(contract), approve=True)
    assert lines(moved.entries) == tally(("REFUND", 100_00))
    assert contract.milestones[0].status is MilestoneStatus.REFUNDED
    assert contract.ledger.held == 0


def test_an_approved_partial_refund_releases_the_rest_to_the_freelancer() -> None:
    contract = with_first_milestone(MilestoneStatus.FUNDED)
    moved = answer_refund(contract, request_refund(contract, 1, "30.00"), approve=True)
    assert lines(moved.entries) == tally(
        ("REFUND", 30_00), ("RELEASE", 70_00), ("SERVICE_FEE", 7_00)
    )
    first = contract.milestones[0]
    assert first.status is MilestoneStatus.RELEASED
    assert (first.refunded_amount, first.released_amount) == (30_00, 70_00)


def test_a_refund_of_more_than_the_escrow_is_invalid_amount() -> None:
    contract = with_first_milestone(MilestoneStatus.FUNDED)
    command = RequestRefund(milestone_id=1, amount=100_01)
    error = refused(contract, lambda: contract.request_refund(CLIENT, command))
    assert (error.code, error.problems[0].field) == (ErrorCode.INVALID_AMOUNT, ("amount",))


@pytest.mark.parametrize(
    ("to_freelancer", "to_client", "status"),
    [
        ("60.00", "40.00", MilestoneStatus.RELEASED),
        ("0", "100.00", MilestoneStatus.REFUNDED),
        ("100.00", "0.00", MilestoneStatus.RELEASED),
    ],
)
def test_a_dispute_is_resolved_by_splitting_the_escrow(
    to_freelancer: str, to_client: str, status: MilestoneStatus
) -> None:
    contract = with_first_milestone(MilestoneStatus.FUNDED)
    dispute = open_dispute(contract)
    step(
        contract,
        lambda: contract.resolve_dispute(
            ADMIN,
            ResolveDispute(
                dispute_id=dispute,
                freelancer_amount=cents(to_freelancer),
                client_amount=cents(to_client),
            ),
        ),
    )
    first = contract.milestones[0]
    assert first.status is status
    assert first.released_amount + first.refunded_amount == 100_00
    assert contract.ledger.held == 0


def test_a_dispute_split_must_add_up_to_the_escrow() -> None:
    contract = with_first_milestone(MilestoneStatus.FUNDED)
    dispute = open_dispute(contract)
    error = refused(
        contract,
        lambda: contract.resolve_dispute(
            ADMIN, ResolveDispute(dispute_id=dispute, freelancer_amount=60_00, client_amount=30_00)
        ),
    )
    assert error.code is ErrorCode.INVALID_AMOUNT


def test_the_service_fee_applies_to_the_freelancers_part_of_a_split() -> None:
    # docs/concepts.md#disputes
    contract = with_first_milestone(MilestoneStatus.SUBMITTED)
    dispute = open_dispute(contract, by=FREELANCER)
    moved = step(
        contract,
        lambda: contract.resolve_dispute(
            ADMIN, ResolveDispute(dispute_id=dispute, freelancer_amount=60_00, client_amount=40_00)
        ),
    )
    assert lines(moved.entries) == tally(
        ("REFUND", 40_00), ("RELEASE", 60_00), ("SERVICE_FEE", 6_00)
    )


def test_a_refund_request_no_longer_pending_cannot_be_answered() -> None:
    # docs/rules.md#milestones
    contract = with_first_milestone(MilestoneStatus.FUNDED)
    refund = request_refund(contract, 1, "10.00")
    answer_refund(contract, refund, approve=False)
    command = RespondToRefundRequest(refund_request_id=refund, approve=True)
    error = refused(contract, lambda: contract.answer_refund(FREELANCER, command))
    assert error.code is ErrorCode.INVALID_STATE
