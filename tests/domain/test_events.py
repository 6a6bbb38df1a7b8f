"""What a contract records about its state changes (schema.graphql, docs/concepts.md#events)."""

from __future__ import annotations

from app.domain.commands import ResolveDispute
from app.domain.events import EventType
from app.domain.milestones import MilestoneStatus
from tests.domain.builders import (
    ADMIN,
    CLIENT,
    FREELANCER,
    active,
    answer_refund,
    decline,
    end,
    fund,
    offered,
    open_dispute,
    pay_bonus,
    propose_changes,
    release,
    request_refund,
    request_revision,
    step,
    submit,
    with_first_milestone,
)

C, F = CLIENT.user_id, FREELANCER.user_id


def test_a_whole_contract_is_told_in_events_numbered_from_one_without_gaps() -> None:
    # given
    contract = offered("100.00", "50.00", "25.00")
    fund(contract)
    step(contract, lambda: contract.accept(FREELANCER))
    submit(contract)
    request_revision(contract)
    submit(contract, 1, "90.00")
    release(contract, 1, "60.00")
    fund(contract, 2)
    release(contract, 2)
    pay_bonus(contract, "10.00")
    fund(contract, 3)
    end(contract, FREELANCER, "Moving on")

    # then
    assert [
        (e.sequence, e.type, e.actor_id, e.milestone_id, e.amount) for e in contract.events
    ] == [
        (1, EventType.CONTRACT_OFFERED, C, None, None),
        (2, EventType.MILESTONE_FUNDED, C, 1, 100_00),
        (3, EventType.CONTRACT_ACCEPTED, F, None, None),
        (4, EventType.MILESTONE_SUBMITTED, F, 1, 100_00),
        (5, EventType.MILESTONE_REVISION_REQUESTED, C, 1, None),
        (6, EventType.MILESTONE_SUBMITTED, F, 1, 90_00),
        (7, EventType.MILESTONE_RELEASED, C, 1, 60_00),
        (8, EventType.MILESTONE_FUNDED, C, 2, 50_00),
        (9, EventType.MILESTONE_RELEASED, C, 2, 50_00),
        (10, EventType.BONUS_PAID, C, None, 10_00),
        (11, EventType.MILESTONE_FUNDED, C, 3, 25_00),
        (12, EventType.MILESTONE_REFUNDED, F, 3, 25_00),
        (13, EventType.CONTRACT_ENDED, F, None, None),
    ]
    assert contract.last_sequence == 13
    assert contract.events[-1].message == "Moving on"


def test_declining_a_funded_offer_refunds_the_milestone_then_declines() -> None:
    contract = offered()
    fund(contract)
    moved = decline(contract, "Too busy")
    assert [(e.type, e.milestone_id, e.amount) for e in moved.events] == [
        (EventType.MILESTONE_REFUNDED, 1, 100_00),
        (EventType.CONTRACT_DECLINED, None, None),
    ]
    assert moved.events[-1].message == "Too busy"


def test_withdrawing_a_funded_offer_refunds_the_milestone_then_ends() -> None:
    contract = offered()
    fund(contract)
    moved = end(contract, CLIENT)
    assert [e.type for e in moved.events] == [
        EventType.MILESTONE_REFUNDED,
        EventType.CONTRACT_ENDED,
    ]


def test_an_approved_refund_with_a_rest_tells_approval_refund_then_release() -> None:
    # docs/concepts.md#events
    contract = with_first_milestone(MilestoneStatus.SUBMITTED)
    moved = answer_refund(contract, request_refund(contract, 1, "30.00"), approve=True)
    assert [(e.type, e.amount, e.actor_id) for e in moved.events] == [
        (EventType.REFUND_APPROVED, 30_00, F),
        (EventType.MILESTONE_REFUNDED, 30_00, F),
        (EventType.MILESTONE_RELEASED, 70_00, F),
    ]


def test_a_dispute_split_tells_each_direction() -> None:
    # docs/concepts.md#disputes: each direction has its own event and entry.
    contract = with_first_milestone(MilestoneStatus.FUNDED)
    dispute = open_dispute(contract)
    moved = step(
        contract,
        lambda: contract.resolve_dispute(
            ADMIN,
            ResolveDispute(
                dispute_id=dispute, freelancer_amount=70_00, client_amount=30_00, note="Split"
            ),
        ),
    )
    assert moved.events[0].type is EventType.DISPUTE_RESOLVED
    assert {(e.type, e.amount) for e in moved.events[1:]} == {
        (EventType.MILESTONE_REFUNDED, 30_00),
        (EventType.MILESTONE_RELEASED, 70_00),
    }


def test_ending_withdraws_a_pending_change_request_before_ending() -> None:
    # docs/concepts.md#disputes
    contract = active()
    propose_changes(contract, FREELANCER)
    moved = end(contract, CLIENT)
    assert [e.type for e in moved.events] == [
        EventType.CHANGE_REQUEST_WITHDRAWN,
        EventType.CONTRACT_ENDED,
    ]


def test_completing_a_piece_rate_milestone_records_an_event() -> None:
    # docs/concepts.md#events: one event per state change. Completing moves the milestone from
    # FUNDED
    # to RELEASED or CANCELLED, so subscribers must hear of it.
    contract = with_first_milestone(MilestoneStatus.FUNDED, piece_rate=True)
    moved = step(contract, lambda: contract.complete(CLIENT, 1))
    assert contract.milestones[0].status is MilestoneStatus.CANCELLED
    assert [e.milestone_id for e in moved.events] == [1]
