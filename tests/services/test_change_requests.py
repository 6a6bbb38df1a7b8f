"""Milestone change requests through the services (docs/concepts.md#change-requests,
§6.28, §6.30, §6.34).

After acceptance, milestones change only through a change request: a batch of ADD, UPDATE,
DELETE and MOVE on future milestones, proposed by one party, accepted (applied atomically,
re-validated), declined by the other, or withdrawn by the proposer.
"""

from __future__ import annotations

from datetime import date

import pytest

from app.db import models
from app.domain.commands import FundMilestone
from app.domain.errors import ErrorCode
from app.domain.requests import ChangeAction, MilestoneChange
from app.services import contracts
from app.services.runtime import Runtime
from tests.services.conftest import People
from tests.services.flows import (
    Deal,
    Typed,
    add,
    delete,
    fixed,
    move,
    piece,
    refused,
    titles,
    update,
)
from tests.support import FrozenClock

pytestmark = pytest.mark.usefixtures("books_stay_right")

A, B, C = 0, 1, 2
NOT_EDITABLE = ErrorCode.MILESTONE_NOT_EDITABLE


@pytest.fixture
async def deal(runtime: Runtime, people: People) -> Deal:
    """An active contract of three future milestones: A 100.00, B 50.00, C 20.00."""
    return await Deal.active(
        runtime,
        people.client.actor,
        people.freelancer.actor,
        fixed("100.00", "A"),
        fixed("50.00", "B"),
        fixed("20.00", "C"),
    )


async def request_row(request_id: int) -> models.ChangeRequest:
    return await models.ChangeRequest.get(id=request_id)


async def proposed_and_accepted(deal: Deal, *changes: MilestoneChange | Typed) -> list[str]:
    """The titles by position after the client proposes `changes` and the freelancer accepts."""
    request_id = await deal.propose(*changes)
    await deal.accept_changes(request_id)
    return titles(await deal.plan())


# --- proposing and accepting, one action at a time --------------------------------------------


async def test_a_proposal_changes_nothing_until_accepted(deal: Deal, clock: FrozenClock) -> None:
    watch = await deal.watch()

    request_id = await deal.propose(add("D", "30.00"), message="One more")

    assert await deal.plan() == [("A", 10_000), ("B", 5_000), ("C", 2_000)]
    request = await request_row(request_id)
    assert (request.status, request.proposed_by_id, request.message) == (
        "PENDING",
        deal.client.user_id,
        "One more",
    )
    assert (request.created_at, request.resolved_at) == (clock.now, None)
    assert await watch.events() == [("CHANGE_REQUEST_PROPOSED", deal.client.user_id, None, None)]
    event = await models.ContractEvent.get(contract_id=deal.id, type="CHANGE_REQUEST_PROPOSED")
    assert (event.change_request_id, event.message) == (request_id, "One more")
    assert await watch.entries() == []


async def test_accepting_an_add_without_position_appends(deal: Deal) -> None:
    request_id = await deal.propose(add("D", "30.00", due_date=date(2026, 5, 1)))
    watch = await deal.watch()

    await deal.accept_changes(request_id)

    assert await deal.plan() == [("A", 10_000), ("B", 5_000), ("C", 2_000), ("D", 3_000)]
    added = await models.Milestone.get(contract_id=deal.id, title="D")
    assert (added.status, added.due_date, added.funded_amount) == (
        "NOT_FUNDED",
        date(2026, 5, 1),
        0,
    )
    request = await request_row(request_id)
    assert request.status == "ACCEPTED"
    assert request.resolved_at is not None
    # the stored change now names the milestone it created
    assert request.changes[0]["milestone_id"] == added.id
    assert await watch.events() == [
        ("CHANGE_REQUEST_ACCEPTED", deal.freelancer.user_id, None, None)
    ]
    event = await models.ContractEvent.get(contract_id=deal.id, type="CHANGE_REQUEST_ACCEPTED")
    assert event.change_request_id == request_id


async def test_the_new_order_is_the_funding_order(deal: Deal) -> None:
    await proposed_and_accepted(deal, add("D", position=1), move(deal.ids[C], 2))

    assert titles(await deal.plan()) == ["D", "C", "A", "B"]
    assert await refused(deal.fund(A)) == [(ErrorCode.MILESTONE_OUT_OF_ORDER, ("milestone_id",))]
    d = await models.Milestone.get(contract_id=deal.id, title="D")
    await contracts.fund_milestone(deal.runtime, deal.client, FundMilestone(milestone_id=d.id))
    assert await deal.statuses() == ["FUNDED", "NOT_FUNDED", "NOT_FUNDED", "NOT_FUNDED"]


@pytest.mark.parametrize(
    ("position", "expected"),
    [(1, ["D", "A", "B", "C"]), (2, ["A", "D", "B", "C"]), (4, ["A", "B", "C", "D"])],
)
async def test_an_add_at_a_position_shifts_the_rest(
    deal: Deal, position: int, expected: list[str]
) -> None:
    assert await proposed_and_accepted(deal, add("D", position=position)) == expected


async def test_an_add_past_the_end_is_invalid_input(deal: Deal) -> None:
    assert await refused(deal.propose(add("D", position=5))) == [
        (ErrorCode.INVALID_INPUT, ("changes", "0", "position"))
    ]


async def test_an_update_changes_the_given_fields_only(deal: Deal) -> None:
    change = update(
        deal.ids[B],
        title="B2",
        description="Better",
        amount="75.00",
        due_date=date(2026, 4, 30),
    )

    assert await proposed_and_accepted(deal, change) == ["A", "B2", "C"]

    b = await deal.milestone(B)
    assert (b.title, b.description, b.amount, b.due_date, b.position) == (
        "B2",
        "Better",
        7_500,
        date(2026, 4, 30),
        2,
    )
    c = await deal.milestone(C)
    assert (c.title, c.amount, c.due_date) == ("C", 2_000, None)


async def test_an_update_of_one_field_keeps_the_others(deal: Deal) -> None:
    await proposed_and_accepted(deal, update(deal.ids[B], amount="12.34"))

    b = await deal.milestone(B)
    assert (b.title, b.description, b.amount) == ("B", "", 1_234)


async def test_an_update_without_any_field_is_invalid_input(deal: Deal) -> None:
    assert await refused(deal.propose(update(deal.ids[B]))) == [
        (ErrorCode.INVALID_INPUT, ("changes", "0"))
    ]


async def test_a_delete_removes_the_milestone_and_renumbers(deal: Deal) -> None:
    assert await proposed_and_accepted(deal, delete(deal.ids[B])) == ["A", "C"]

    b = await deal.milestone(B)
    assert (b.deleted, b.position) == (True, None)
    assert (await deal.milestone(C)).position == 2


@pytest.mark.parametrize(
    ("index", "position", "expected"),
    [(C, 1, ["C", "A", "B"]), (A, 3, ["B", "C", "A"]), (B, 2, ["A", "B", "C"])],
)
async def test_a_move_places_the_milestone_at_its_new_position(
    deal: Deal, index: int, position: int, expected: list[str]
) -> None:
    assert await proposed_and_accepted(deal, move(deal.ids[index], position)) == expected


async def test_a_move_needs_a_position_in_the_plan(deal: Deal) -> None:
    no_position = MilestoneChange(action=ChangeAction.MOVE, milestone_id=deal.ids[A])
    assert await refused(deal.propose(no_position)) == [
        (ErrorCode.INVALID_INPUT, ("changes", "0", "position"))
    ]
    assert await refused(deal.propose(move(deal.ids[A], 4))) == [
        (ErrorCode.INVALID_INPUT, ("changes", "0", "position"))
    ]


# --- batches ------------------------------------------------------------------------------------


async def test_a_batch_applies_in_order_each_change_to_the_result_of_the_one_before(
    deal: Deal,
) -> None:
    # A B C -> A B C X -> A C X -> A C(40.00) X -> C A X -> C Y A X
    request_id = await deal.propose(
        add("X", "10.00"),
        delete(deal.ids[B]),
        update(deal.ids[C], amount="40.00"),
        move(deal.ids[A], 2),
        add("Y", "5.00", position=2),
    )
    assert titles(await deal.plan()) == ["A", "B", "C"]

    await deal.accept_changes(request_id)

    assert await deal.plan() == [("C", 4_000), ("Y", 500), ("A", 10_000), ("X", 1_000)]


async def test_positions_given_later_in_a_batch_refer_to_the_plan_so_far(deal: Deal) -> None:
    # D goes first, then A moves to 1 again: A D B C
    assert await proposed_and_accepted(deal, add("D", position=1), move(deal.ids[A], 1)) == [
        "A",
        "D",
        "B",
        "C",
    ]


async def test_a_change_to_a_milestone_deleted_earlier_in_the_batch_is_not_found(
    deal: Deal,
) -> None:
    assert await refused(deal.propose(delete(deal.ids[B]), update(deal.ids[B], title="B2"))) == [
        (ErrorCode.NOT_FOUND, ("changes", "1", "milestone_id"))
    ]


async def test_bad_fields_are_reported_at_once_with_their_paths(deal: Deal) -> None:
    problems = await refused(
        deal.propose(
            add("D", "30.00"),
            update(deal.ids[B], amount="1.001"),
            add("", "abc"),
        )
    )

    assert set(problems) == {
        (ErrorCode.INVALID_AMOUNT, ("changes", "1", "amount")),
        (ErrorCode.INVALID_INPUT, ("changes", "2", "title")),
        (ErrorCode.INVALID_AMOUNT, ("changes", "2", "amount")),
    }


async def test_an_unknown_or_foreign_milestone_is_not_found(
    deal: Deal, runtime: Runtime, people: People
) -> None:
    other = await Deal.active(runtime, people.client.actor, people.freelancer.actor)

    assert await refused(deal.propose(add("D"), update(other.ids[0], title="Mine"))) == [
        (ErrorCode.NOT_FOUND, ("changes", "1", "milestone_id"))
    ]


# --- the rules of the plan ----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["funded", "submitted", "disputed", "released", "refunded"])
async def test_an_active_or_finished_milestone_cannot_be_changed_or_preceded(
    deal: Deal, how: str
) -> None:
    await deal.fund(A)
    if how == "submitted":
        await deal.submit(A)
    if how == "disputed":
        await deal.open_dispute(A)
    if how == "released":
        await deal.release(A)
    if how == "refunded":
        await deal.answer_refund(await deal.request_refund(A), approve=True)
    a = deal.ids[A]

    cases: list[tuple[MilestoneChange | Typed, str]] = [
        (update(a, title="A2"), "milestone_id"),
        (update(a, amount="200.00"), "milestone_id"),
        (delete(a), "milestone_id"),
        (move(a, 2), "milestone_id"),
        (add("D", position=1), "position"),
        (move(deal.ids[C], 1), "position"),
    ]
    for change, field in cases:
        assert await refused(deal.propose(change)) == [(NOT_EDITABLE, ("changes", "0", field))]

    # right after it is fine
    assert await proposed_and_accepted(deal, move(deal.ids[C], 2), add("D", position=2)) == [
        "A",
        "D",
        "C",
        "B",
    ]


async def test_milestone_amounts_keep_the_minimum(deal: Deal) -> None:
    for change in (add("D", "4.99"), update(deal.ids[B], amount="4.99")):
        assert await refused(deal.propose(change)) == [
            (ErrorCode.AMOUNT_TOO_SMALL, ("changes", "0", "amount"))
        ]
    assert await proposed_and_accepted(deal, update(deal.ids[B], amount="5.00")) == ["A", "B", "C"]


async def test_the_200_milestone_limit_holds_after_applying(
    runtime: Runtime, people: People
) -> None:
    drafts = [fixed("5.00", f"M{i}") for i in range(200)]
    deal = await Deal.active(runtime, people.client.actor, people.freelancer.actor, *drafts)

    assert await refused(deal.propose(add("One too many"))) == [
        (ErrorCode.TOO_MANY_MILESTONES, ("changes",))
    ]
    # adding one and deleting one ends at 200: allowed
    request_id = await deal.propose(add("New", "5.00"), delete(deal.ids[0]))
    await deal.accept_changes(request_id)

    plan = await deal.plan()
    assert len(plan) == 200
    assert (plan[0][0], plan[-1][0]) == ("M1", "New")


async def test_piece_rate_updates_recompute_the_amount(runtime: Runtime, people: People) -> None:
    deal = await Deal.active(
        runtime,
        people.client.actor,
        people.freelancer.actor,
        fixed("100.00", "Fixed"),
        piece("2.00", 10, "Per unit"),
    )
    fixed_id, piece_id = deal.ids

    # unitPrice then maxUnits, each applied to the result of the one before
    await proposed_and_accepted(
        deal, update(piece_id, unit_price="3.00"), update(piece_id, max_units=20)
    )
    m = await deal.milestone(1)
    assert (m.unit_price, m.max_units, m.amount) == (300, 20, 6_000)

    # a fixed-price milestone becomes piece-rate with both fields
    await proposed_and_accepted(deal, update(fixed_id, unit_price="5.00", max_units=4))
    m = await deal.milestone(0)
    assert (m.unit_price, m.max_units, m.amount) == (500, 4, 2_000)


async def test_piece_rate_updates_are_checked(runtime: Runtime, people: People) -> None:
    deal = await Deal.active(
        runtime,
        people.client.actor,
        people.freelancer.actor,
        fixed("100.00", "Fixed"),
        piece("2.00", 10, "Per unit"),
    )
    fixed_id, piece_id = deal.ids
    at = ("changes", "0")

    cases = [
        (update(piece_id, amount="30.00"), ErrorCode.INVALID_INPUT, (*at, "amount")),
        (
            update(piece_id, unit_price="3.00", amount="31.00"),
            ErrorCode.INVALID_INPUT,
            (*at, "amount"),
        ),
        (update(piece_id, unit_price="0.40"), ErrorCode.AMOUNT_TOO_SMALL, (*at, "amount")),
        (update(fixed_id, unit_price="5.00"), ErrorCode.INVALID_INPUT, (*at, "unit_price")),
        (update(piece_id, max_units=0), ErrorCode.INVALID_INPUT, (*at, "max_units")),
    ]
    for change, code, field in cases:
        assert await refused(deal.propose(change)) == [(code, field)], change


async def test_a_piece_rate_milestone_may_be_added(deal: Deal) -> None:
    await proposed_and_accepted(deal, add("P", amount=None, unit_price="2.50", max_units=4))

    p = await models.Milestone.get(contract_id=deal.id, title="P")
    assert (p.unit_price, p.max_units, p.amount, p.position) == (250, 4, 1_000, 4)


# --- who answers, and when ----------------------------------------------------------------------


async def test_the_proposer_cannot_answer_and_the_other_party_can(deal: Deal) -> None:
    request_id = await deal.propose(add("D"), by=deal.freelancer)

    assert await refused(deal.accept_changes(request_id, by=deal.freelancer)) == [
        (ErrorCode.NOT_PERMITTED, None)
    ]
    assert await refused(deal.decline_changes(request_id, by=deal.freelancer)) == [
        (ErrorCode.NOT_PERMITTED, None)
    ]
    assert await refused(deal.withdraw_changes(request_id, by=deal.client)) == [
        (ErrorCode.NOT_PERMITTED, None)
    ]
    await deal.accept_changes(request_id, by=deal.client)

    assert titles(await deal.plan()) == ["A", "B", "C", "D"]


async def test_an_outsider_does_not_see_the_request(deal: Deal, people: People) -> None:
    request_id = await deal.propose(add("D"))
    outsider = people.outsider.actor

    assert await refused(deal.accept_changes(request_id, by=outsider)) == [
        (ErrorCode.NOT_FOUND, ("change_request_id",))
    ]
    assert await refused(deal.propose(add("E"), by=outsider)) == [
        (ErrorCode.NOT_FOUND, ("contract_id",))
    ]


async def test_declining_leaves_the_plan_as_it_was(deal: Deal, clock: FrozenClock) -> None:
    request_id = await deal.propose(delete(deal.ids[A]))
    watch = await deal.watch()

    await deal.decline_changes(request_id)

    assert titles(await deal.plan()) == ["A", "B", "C"]
    request = await request_row(request_id)
    assert (request.status, request.reason, request.resolved_at) == ("DECLINED", "No", clock.now)
    assert await watch.events() == [
        ("CHANGE_REQUEST_DECLINED", deal.freelancer.user_id, None, None)
    ]


async def test_the_proposer_withdraws(deal: Deal, clock: FrozenClock) -> None:
    request_id = await deal.propose(delete(deal.ids[A]))
    watch = await deal.watch()

    await deal.withdraw_changes(request_id)

    assert titles(await deal.plan()) == ["A", "B", "C"]
    request = await request_row(request_id)
    assert (request.status, request.resolved_at) == ("WITHDRAWN", clock.now)
    assert await watch.events() == [("CHANGE_REQUEST_WITHDRAWN", deal.client.user_id, None, None)]


async def test_only_one_request_is_pending_at_a_time(deal: Deal) -> None:
    request_id = await deal.propose(add("D"))

    for party in (deal.client, deal.freelancer):
        assert await refused(deal.propose(add("E"), by=party)) == [
            (ErrorCode.CHANGE_REQUEST_PENDING, None)
        ]

    await deal.decline_changes(request_id)
    await deal.propose(add("E"), by=deal.freelancer)


@pytest.mark.parametrize("answer", ["accept", "decline", "withdraw"])
async def test_answering_a_request_no_longer_pending_is_invalid_state(
    deal: Deal, answer: str
) -> None:
    request_id = await deal.propose(add("D"))
    first = {
        "accept": deal.accept_changes,
        "decline": deal.decline_changes,
        "withdraw": deal.withdraw_changes,
    }[answer]
    await first(request_id)
    watch = await deal.watch()

    for step in (deal.accept_changes, deal.decline_changes):
        assert await refused(step(request_id)) == [(ErrorCode.INVALID_STATE, None)]
    assert await refused(deal.withdraw_changes(request_id)) == [(ErrorCode.INVALID_STATE, None)]
    assert await watch.events() == []


async def test_changes_cannot_be_proposed_on_an_offer(runtime: Runtime, people: People) -> None:
    # §6.30: an OFFERED contract allows only the offer's own actions
    deal = await Deal.offer(runtime, people.client.actor, people.freelancer.actor)

    for party in (deal.client, deal.freelancer):
        assert await refused(deal.propose(add("D"), by=party)) == [(ErrorCode.INVALID_STATE, None)]


async def test_changes_cannot_be_proposed_on_an_ended_contract(deal: Deal) -> None:
    await deal.end()

    assert await refused(deal.propose(add("D"))) == [(ErrorCode.INVALID_STATE, None)]


async def test_ending_the_contract_withdraws_the_pending_request(deal: Deal) -> None:
    # §6.34
    request_id = await deal.propose(add("D"), by=deal.freelancer)
    watch = await deal.watch()

    await deal.end(by=deal.client)

    assert (await request_row(request_id)).status == "WITHDRAWN"
    events = await watch.events()
    assert events[0] == ("CHANGE_REQUEST_WITHDRAWN", deal.client.user_id, None, None)
    assert events[-1][0] == "CONTRACT_ENDED"
    assert await refused(deal.accept_changes(request_id, by=deal.client)) == [
        (ErrorCode.INVALID_STATE, None)
    ]


# --- stale requests (§6.18) ---------------------------------------------------------------------


async def test_a_request_touching_a_milestone_funded_since_is_stale(deal: Deal) -> None:
    # given a request to add D and change B, then A released and B funded (allowed)
    request_id = await deal.propose(add("D"), update(deal.ids[B], amount="80.00"))
    await deal.fund(A)
    await deal.release(A)
    await deal.fund(B)
    watch = await deal.watch()

    # when the freelancer accepts
    assert await refused(deal.accept_changes(request_id)) == [
        (ErrorCode.STALE_CHANGE_REQUEST, None)
    ]

    # then nothing is applied (not even the ADD), and the request stays pending
    assert await deal.plan() == [("A", 10_000), ("B", 5_000), ("C", 2_000)]
    assert (await request_row(request_id)).status == "PENDING"
    assert await watch.events() == []
    # and the proposer withdraws it, which frees the contract for a new request
    await deal.withdraw_changes(request_id)
    assert (await request_row(request_id)).status == "WITHDRAWN"
    await deal.propose(update(deal.ids[C], amount="25.00"))


async def test_a_request_placing_a_milestone_before_one_funded_since_is_stale(
    deal: Deal,
) -> None:
    request_id = await deal.propose(move(deal.ids[C], 1))
    await deal.fund(A)

    assert await refused(deal.accept_changes(request_id, by=deal.freelancer)) == [
        (ErrorCode.STALE_CHANGE_REQUEST, None)
    ]
    assert titles(await deal.plan()) == ["A", "B", "C"]
    assert (await request_row(request_id)).status == "PENDING"


async def test_a_request_untouched_by_the_funding_still_applies(deal: Deal) -> None:
    request_id = await deal.propose(update(deal.ids[C], title="C2"), add("D"))
    await deal.fund(A)

    await deal.accept_changes(request_id)

    assert titles(await deal.plan()) == ["A", "B", "C2", "D"]
    assert (await deal.milestone(A)).status == "FUNDED"


async def test_a_request_deleting_a_milestone_funded_since_is_stale(deal: Deal) -> None:
    request_id = await deal.propose(delete(deal.ids[B]), by=deal.freelancer)
    await deal.fund(A)
    await deal.release(A)
    await deal.fund(B)

    assert await refused(deal.accept_changes(request_id, by=deal.client)) == [
        (ErrorCode.STALE_CHANGE_REQUEST, None)
    ]
    b = await deal.milestone(B)
    assert (b.deleted, b.status) == (False, "FUNDED")
