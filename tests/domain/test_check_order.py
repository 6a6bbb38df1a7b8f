"""Which refusal wins (docs/rules.md#the-order-of-checks): NOT_FOUND, NOT_PERMITTED, input errors
(all of them at
once), then state; among state errors ANOTHER_MILESTONE_ACTIVE before MILESTONE_OUT_OF_ORDER."""

from __future__ import annotations

from functools import partial

from app.domain.commands import (
    DeclineContract,
    EndContract,
    OpenDispute,
    PayBonus,
    ReleaseMilestone,
    SubmitMilestone,
)
from app.domain.errors import ErrorCode
from app.domain.milestones import MilestoneStatus
from app.domain.permissions import ContractStatus
from tests.domain.builders import (
    CLIENT,
    FREELANCER,
    OUTSIDER,
    active,
    fund,
    in_status,
    offered,
    refused,
    reject,
    release,
    request_refund,
    with_first_milestone,
)

TOO_LONG = "x" * 10_001


def test_an_unknown_milestone_is_not_found_even_for_an_outsider() -> None:
    contract = active()
    error = refused(contract, lambda: contract.fund(OUTSIDER, 99))
    assert error.code is ErrorCode.NOT_FOUND


def test_the_wrong_party_is_not_permitted_before_its_input_is_checked() -> None:
    contract = active()
    command = ReleaseMilestone(milestone_id=1, **reject("abc", "amount"))
    error = refused(contract, lambda: contract.release(FREELANCER, command))
    assert error.code is ErrorCode.NOT_PERMITTED


def test_bad_input_is_reported_before_the_state() -> None:
    # Milestone 1 is NOT_FUNDED, so the release would be INVALID_STATE too.
    contract = active()
    command = ReleaseMilestone(milestone_id=1, **reject("abc", "amount"))
    error = refused(contract, lambda: contract.release(CLIENT, command))
    assert [(p.code, p.field) for p in error.problems] == [(ErrorCode.INVALID_AMOUNT, ("amount",))]


def test_every_bad_field_of_a_submission_is_reported_at_once() -> None:
    contract = active()  # milestone 1 NOT_FUNDED: the state is wrong too
    error = refused(
        contract,
        lambda: contract.submit(
            FREELANCER,
            SubmitMilestone(
                milestone_id=1,
                message=TOO_LONG,
                attachments=("https://example.com/ok", "ftp://example.com/no"),
                requested_amount=-5_00,
            ),
        ),
    )
    assert {(p.code, p.field) for p in error.problems} == {
        (ErrorCode.INVALID_INPUT, ("message",)),
        (ErrorCode.INVALID_INPUT, ("attachments", "1")),
        (ErrorCode.INVALID_AMOUNT, ("requested_amount",)),
    }


def test_a_bad_bonus_amount_is_reported_before_the_contract_status() -> None:
    contract = offered()
    command = PayBonus(contract_id=1, note=TOO_LONG, **reject("1.001", "amount"))
    error = refused(contract, lambda: contract.pay_bonus(CLIENT, command))
    assert {(p.code, p.field) for p in error.problems} == {
        (ErrorCode.INVALID_AMOUNT, ("amount",)),
        (ErrorCode.INVALID_INPUT, ("note",)),
    }


def test_a_bad_reason_is_reported_before_the_contract_status() -> None:
    contract = in_status(ContractStatus.ENDED)
    error = refused(
        contract, lambda: contract.end(CLIENT, EndContract(contract_id=1, reason=TOO_LONG))
    )
    assert [(p.code, p.field) for p in error.problems] == [(ErrorCode.INVALID_INPUT, ("reason",))]


def test_declining_an_accepted_contract_with_a_bad_reason_reports_the_reason() -> None:
    contract = active()
    command = DeclineContract(contract_id=1, reason=TOO_LONG)
    error = refused(contract, lambda: contract.decline(FREELANCER, command))
    assert error.code is ErrorCode.INVALID_INPUT


def test_the_client_declining_is_not_permitted_whatever_the_reason() -> None:
    contract = offered()
    command = DeclineContract(contract_id=1, reason=TOO_LONG)
    error = refused(contract, lambda: contract.decline(CLIENT, command))
    assert error.code is ErrorCode.NOT_PERMITTED


def test_the_freelancer_withdrawing_an_offer_is_not_permitted_whatever_the_reason() -> None:
    # docs/rules.md#contracts
    contract = offered()
    command = EndContract(contract_id=1, reason=TOO_LONG)
    error = refused(contract, lambda: contract.end(FREELANCER, command))
    assert error.code is ErrorCode.NOT_PERMITTED


def test_cannot_fund_a_milestone_while_another_is_active() -> None:
    # Milestone 3 is also out of order (2 comes first): ANOTHER_MILESTONE_ACTIVE wins.
    contract = with_first_milestone(MilestoneStatus.FUNDED)
    for later in (2, 3):
        error = refused(contract, partial(contract.fund, CLIENT, later))
        assert (error.code, error.problems[0].field) == (
            ErrorCode.ANOTHER_MILESTONE_ACTIVE,
            ("milestone_id",),
        )


def test_only_the_first_unfunded_milestone_may_be_funded() -> None:
    contract = active()
    fund(contract)
    release(contract)
    error = refused(contract, lambda: contract.fund(CLIENT, 3))
    assert (error.code, error.problems[0].field) == (
        ErrorCode.MILESTONE_OUT_OF_ORDER,
        ("milestone_id",),
    )


def test_cannot_fund_out_of_order_from_the_start() -> None:
    contract = active()
    error = refused(contract, lambda: contract.fund(CLIENT, 2))
    assert error.code is ErrorCode.MILESTONE_OUT_OF_ORDER


def test_submitting_while_a_refund_is_pending_is_refund_pending() -> None:
    # docs/concepts.md: while a refund is pending the freelancer cannot submit.
    contract = with_first_milestone(MilestoneStatus.FUNDED)
    request_refund(contract)
    error = refused(
        contract,
        lambda: contract.submit(FREELANCER, SubmitMilestone(milestone_id=1)),
    )
    assert error.code is ErrorCode.REFUND_PENDING


def test_opening_a_dispute_while_a_refund_is_pending_is_refund_pending() -> None:
    # docs/concepts.md#disputes
    contract = with_first_milestone(MilestoneStatus.FUNDED)
    request_refund(contract)
    command = OpenDispute(milestone_id=1, reason="No")
    error = refused(contract, lambda: contract.open_dispute(FREELANCER, command))
    assert error.code is ErrorCode.REFUND_PENDING
