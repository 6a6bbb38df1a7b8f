"""Milestone change requests (docs/concepts.md, docs/concepts.md#change-requests)."""

from __future__ import annotations

from functools import partial

from app.domain.commands import DeclineChangeRequest
from app.domain.contract import Contract
from app.domain.errors import ErrorCode
from app.domain.events import EventType
from app.domain.milestones import MilestoneStatus
from app.domain.requests import ChangeAction, ChangeRequestStatus, MilestoneChange
from tests.domain.builders import (
    CLIENT,
    FREELANCER,
    active,
    change,
    fund,
    proposal,
    refused,
    release,
    step,
    with_first_milestone,
)

ADD, UPDATE, DELETE, MOVE = (
    ChangeAction.ADD,
    ChangeAction.UPDATE,
    ChangeAction.DELETE,
    ChangeAction.MOVE,
)


def propose(contract: Contract, *changes: MilestoneChange, by: int = CLIENT.user_id) -> int:
    actor = CLIENT if by == CLIENT.user_id else FREELANCER
    step(contract, lambda: contract.propose_changes(actor, proposal(*changes, message="Plan")))
    request = contract.change_requests[-1]
    request.id = len(contract.change_requests)
    return request.id


def accept_changes(contract: Contract, request_id: int, by: int = FREELANCER.user_id) -> None:
    actor = CLIENT if by == CLIENT.user_id else FREELANCER
    step(contract, lambda: contract.accept_change_request(actor, request_id))
    # The repository gives new milestones their ids.
    next_id = max(m.id or 0 for m in [*contract.milestones, *contract.deleted_milestones]) + 1
    for milestone in contract.milestones:
        if milestone.id is None:
            milestone.id, next_id = next_id, next_id + 1


def plan(contract: Contract) -> list[tuple[int, int | None, str]]:
    return [(m.position, m.id, m.title) for m in contract.milestones]


def test_accepted_changes_apply_in_order_and_leave_positions_contiguous() -> None:
    # given: milestones 1, 2, 3
    contract = active()
    # when
    request = propose(
        contract,
        change(ADD, title="Extra", amount="40.00"),
        change(DELETE, milestone_id=2),
        change(MOVE, milestone_id=3, position=1),
        change(UPDATE, milestone_id=1, title="First, renamed", amount="90.00"),
    )
    accept_changes(contract, request)
    # then
    assert plan(contract) == [(1, 3, "Milestone 3"), (2, 1, "First, renamed"), (3, 4, "Extra")]
    assert contract.milestones[1].amount == 90_00
    assert [m.id for m in contract.deleted_milestones] == [2]
    assert contract.change_requests[0].status is ChangeRequestStatus.ACCEPTED


def test_an_add_with_a_position_inserts_there() -> None:
    contract = active()
    accept_changes(
        contract, propose(contract, change(ADD, title="New", amount="10.00", position=2))
    )
    assert [m.title for m in contract.milestones] == [
        "Milestone 1",
        "New",
        "Milestone 2",
        "Milestone 3",
    ]


def test_nothing_changes_until_the_other_party_accepts() -> None:
    contract = active()
    before = plan(contract)
    propose(contract, change(DELETE, milestone_id=3))
    assert plan(contract) == before


def test_an_active_milestone_cannot_be_edited_moved_or_deleted() -> None:
    contract = with_first_milestone(MilestoneStatus.FUNDED)
    for one in (
        change(UPDATE, milestone_id=1, title="No"),
        change(MOVE, milestone_id=1, position=2),
        change(DELETE, milestone_id=1),
    ):
        error = refused(contract, partial(contract.propose_changes, CLIENT, proposal(one)))
        assert error.code is ErrorCode.MILESTONE_NOT_EDITABLE


def test_nothing_may_be_placed_at_or_before_an_active_or_finished_milestone() -> None:
    contract = active()
    fund(contract)
    release(contract)
    fund(contract, 2)
    for position in (1, 2):
        for one in (
            change(ADD, title="Early", amount="10.00", position=position),
            change(MOVE, milestone_id=3, position=position),
        ):
            error = refused(contract, partial(contract.propose_changes, CLIENT, proposal(one)))
            assert error.code is ErrorCode.MILESTONE_NOT_EDITABLE


def test_a_new_milestone_below_the_minimum_is_too_small_at_its_path() -> None:
    contract = active()
    error = refused(
        contract,
        lambda: contract.propose_changes(
            CLIENT,
            proposal(change(DELETE, milestone_id=3), change(ADD, title="Tiny", amount="4.99")),
        ),
    )
    assert [(p.code, p.field) for p in error.problems] == [
        (ErrorCode.AMOUNT_TOO_SMALL, ("changes", "1", "amount"))
    ]


def test_only_one_change_request_may_be_pending() -> None:
    contract = active()
    propose(contract, change(DELETE, milestone_id=3))
    error = refused(
        contract,
        lambda: contract.propose_changes(FREELANCER, proposal(change(DELETE, milestone_id=2))),
    )
    assert error.code is ErrorCode.CHANGE_REQUEST_PENDING


def test_funding_a_milestone_a_pending_request_touches_makes_it_stale() -> None:
    # docs/concepts.md#change-requests: nothing is applied and the request stays PENDING.
    contract = active()
    request = propose(contract, change(UPDATE, milestone_id=1, amount="80.00"))
    fund(contract)
    error = refused(contract, lambda: contract.accept_change_request(FREELANCER, request))
    assert error.code is ErrorCode.STALE_CHANGE_REQUEST
    assert contract.change_requests[0].status is ChangeRequestStatus.PENDING
    step(contract, lambda: contract.withdraw_change_request(CLIENT, request))
    withdrawn = contract.change_requests[0]
    assert withdrawn.status is ChangeRequestStatus.WITHDRAWN


def test_a_declined_request_applies_nothing_and_cannot_be_answered_again() -> None:
    contract = active()
    request = propose(contract, change(DELETE, milestone_id=3), by=FREELANCER.user_id)
    command = DeclineChangeRequest(change_request_id=request, reason="No")
    moved = step(contract, lambda: contract.decline_change_request(CLIENT, command))
    assert [e.type for e in moved.events] == [EventType.CHANGE_REQUEST_DECLINED]
    assert len(contract.milestones) == 3
    error = refused(contract, lambda: contract.accept_change_request(CLIENT, request))
    assert error.code is ErrorCode.INVALID_STATE


def test_changes_that_would_exceed_the_milestone_limit_are_too_many() -> None:
    contract = active(*["10.00"] * 199)
    error = refused(
        contract,
        lambda: contract.propose_changes(
            CLIENT,
            proposal(
                change(ADD, title="A", amount="10.00"),
                change(ADD, title="B", amount="10.00"),
            ),
        ),
    )
    assert error.code is ErrorCode.TOO_MANY_MILESTONES
