"""Deadlines: the review window, refund answers, and the automatic steps they cause
(docs/concepts.md, docs/concepts.md#refunds, docs/concepts.md#deadlines, docs/concepts.md#disputes).
An automatic step has no actor."""

from __future__ import annotations

from datetime import timedelta

from app.domain.commands import ReleaseMilestone
from app.domain.events import EventType
from app.domain.milestones import MilestoneStatus
from tests.domain.builders import (
    CLIENT,
    FREELANCER,
    NOW,
    active,
    answer_refund,
    fund,
    open_dispute,
    request_refund,
    request_revision,
    step,
    submit,
    with_first_milestone,
)

WINDOW = timedelta(days=14)


def test_a_submission_opens_the_review_window() -> None:
    contract = with_first_milestone(MilestoneStatus.SUBMITTED)
    assert contract.milestones[0].auto_release_at == NOW + WINDOW


def test_a_revision_request_stops_the_clock_and_a_resubmission_starts_a_new_window() -> None:
    contract = with_first_milestone(MilestoneStatus.SUBMITTED)
    contract.now += timedelta(days=3)
    request_revision(contract)
    assert contract.milestones[0].auto_release_at is None
    contract.now += timedelta(days=2)
    submit(contract)
    assert contract.milestones[0].auto_release_at == NOW + timedelta(days=5) + WINDOW


def test_a_pending_refund_pauses_the_clock_and_a_decline_resumes_the_time_left() -> None:
    # docs/concepts.md#refunds
    contract = with_first_milestone(MilestoneStatus.SUBMITTED)
    contract.now += timedelta(days=4)
    refund = request_refund(contract)
    assert contract.milestones[0].auto_release_at is None
    assert contract.milestones[0].status is MilestoneStatus.SUBMITTED
    contract.now += timedelta(days=2)
    answer_refund(contract, refund, approve=False)
    assert contract.milestones[0].auto_release_at == contract.now + timedelta(days=10)


def test_a_withdrawn_dispute_gives_back_the_review_time_left() -> None:
    # docs/concepts.md#disputes
    contract = with_first_milestone(MilestoneStatus.SUBMITTED)
    contract.now += timedelta(days=4)
    dispute = open_dispute(contract, by=FREELANCER)
    contract.now += timedelta(days=30)
    assert step(contract, contract.apply_deadlines).events == []
    step(contract, lambda: contract.withdraw_dispute(FREELANCER, dispute))
    first = contract.milestones[0]
    assert first.status is MilestoneStatus.SUBMITTED
    assert first.auto_release_at == contract.now + timedelta(days=10)


def test_a_release_withdraws_a_pending_refund_request() -> None:
    contract = with_first_milestone(MilestoneStatus.SUBMITTED)
    request_refund(contract)
    step(contract, lambda: contract.release(CLIENT, ReleaseMilestone(milestone_id=1)))
    assert contract.refunds[0].status == "WITHDRAWN"


def test_work_unreviewed_in_the_window_is_released_with_no_actor() -> None:
    # given
    contract = active()
    fund(contract)
    submit(contract, 1, "80.00")
    # when
    contract.now += timedelta(days=14)
    moved = step(contract, contract.apply_deadlines)
    # then
    assert [(e.type, e.actor_id, e.amount) for e in moved.events] == [
        (EventType.MILESTONE_RELEASED, None, 80_00)
    ]
    assert contract.milestones[0].status is MilestoneStatus.RELEASED


def test_nothing_is_released_before_the_window_closes() -> None:
    contract = active()
    fund(contract)
    submit(contract)
    contract.now += timedelta(days=14) - timedelta(seconds=1)
    moved = step(contract, contract.apply_deadlines)
    assert moved.events == []
    assert contract.milestones[0].status is MilestoneStatus.SUBMITTED


def test_an_automatic_release_is_capped_at_the_remaining_escrow() -> None:
    # docs/concepts.md: the requested amount, capped at the milestone's remaining escrow.
    contract = active()
    fund(contract)
    submit(contract, 1, "150.00")
    contract.now += timedelta(days=15)
    moved = step(contract, contract.apply_deadlines)
    assert [(e.type, e.amount) for e in moved.events] == [(EventType.MILESTONE_RELEASED, 100_00)]
    assert not [e for e in moved.entries if e.kind == "FUNDING"]


def test_a_refund_request_unanswered_in_time_is_approved_with_no_actor() -> None:
    contract = with_first_milestone(MilestoneStatus.FUNDED)
    request_refund(contract)
    contract.now += timedelta(days=7)
    moved = step(contract, contract.apply_deadlines)
    assert [(e.type, e.actor_id) for e in moved.events] == [
        (EventType.REFUND_APPROVED, None),
        (EventType.MILESTONE_REFUNDED, None),
    ]
