"""Refund requests through the services (docs/concepts.md#refunds, docs/concepts.md#events,
docs/concepts.md#deadlines).

The client asks for an active milestone's escrow back, whole or in part; the freelancer
approves or declines within the refund window, or the request counts as approved.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.db import models
from app.domain.errors import ErrorCode
from app.services.deadlines import run_due
from app.services.runtime import Runtime
from tests.services.conftest import People
from tests.services.flows import Deal, cents, ledger, refused
from tests.support import FrozenClock

pytestmark = pytest.mark.usefixtures("books_stay_right")

DAY = timedelta(days=1)
M1, M2 = 0, 1


async def refund_row(refund_id: int) -> models.RefundRequest:
    return await models.RefundRequest.get(id=refund_id)


# --- asking -----------------------------------------------------------------------------------


async def test_a_whole_refund_request_keeps_the_status_and_pauses_the_review(
    deal: Deal, clock: FrozenClock
) -> None:
    # given work submitted 5 days ago
    await deal.submit(M1)
    clock.advance(5 * DAY)
    watch = await deal.watch()

    # when the client asks for the whole escrow back (no amount)
    refund_id = await deal.request_refund(M1)

    # then the milestone keeps its status, its review clock stops, nothing moves yet
    m = await deal.milestone(M1)
    assert m.status == "SUBMITTED"
    assert m.auto_release_at is None
    assert m.review_seconds_left == int((9 * DAY).total_seconds())
    request = await refund_row(refund_id)
    assert (request.status, request.amount) == ("PENDING", cents("100.00"))
    assert request.respond_by == clock.now + 7 * DAY
    assert await watch.events() == [("REFUND_REQUESTED", deal.client.user_id, m.id, 10_000)]
    assert await watch.entries() == []


async def test_a_partial_refund_request_asks_for_its_amount(deal: Deal) -> None:
    refund_id = await deal.request_refund(M1, amount="30.00")

    assert (await refund_row(refund_id)).amount == 3_000
    assert (await deal.milestone(M1)).status == "FUNDED"


@pytest.mark.parametrize("amount", ["100.01", "150.00"])
async def test_a_refund_of_more_than_the_escrow_is_invalid_amount(deal: Deal, amount: str) -> None:
    assert await refused(deal.request_refund(M1, amount=amount)) == [
        (ErrorCode.INVALID_AMOUNT, ("amount",))
    ]
    assert not await models.RefundRequest.exists()


@pytest.mark.parametrize("amount", ["0", "-5.00", "1.001", "ten"])
async def test_a_refund_amount_that_is_not_money_is_invalid_amount(deal: Deal, amount: str) -> None:
    assert await refused(deal.request_refund(M1, amount=amount)) == [
        (ErrorCode.INVALID_AMOUNT, ("amount",))
    ]


async def test_only_the_client_asks_for_a_refund(deal: Deal, people: People) -> None:
    assert await refused(deal.request_refund(M1, by=deal.freelancer)) == [
        (ErrorCode.NOT_PERMITTED, None)
    ]
    assert await refused(deal.request_refund(M1, by=people.outsider.actor)) == [
        (ErrorCode.NOT_FOUND, ("milestone_id",))
    ]


async def test_a_milestone_that_is_not_active_has_no_refund(deal: Deal) -> None:
    assert await refused(deal.request_refund(M2)) == [(ErrorCode.INVALID_STATE, ("milestone_id",))]
    await deal.release(M1)
    assert await refused(deal.request_refund(M1)) == [(ErrorCode.INVALID_STATE, ("milestone_id",))]


async def test_nothing_is_asked_of_an_offer_yet(runtime: Runtime, people: People) -> None:
    # §6.30: on an OFFERED contract the client may fund the first milestone, nothing more
    deal = await Deal.offer(runtime, people.client.actor, people.freelancer.actor)
    await deal.fund(M1)

    assert await refused(deal.request_refund(M1)) == [(ErrorCode.INVALID_STATE, None)]
    for party in (deal.client, deal.freelancer):
        assert await refused(deal.open_dispute(M1, by=party)) == [(ErrorCode.INVALID_STATE, None)]


async def test_a_refund_may_be_asked_after_a_revision_request(deal: Deal) -> None:
    await deal.submit(M1)
    await deal.revise(M1)

    await deal.request_refund(M1, amount="10.00")

    assert (await deal.milestone(M1)).status == "REVISION_REQUESTED"


async def test_while_a_refund_is_pending_nothing_else_is_asked_or_submitted(deal: Deal) -> None:
    # given a pending refund request on the funded milestone
    await deal.request_refund(M1)
    watch = await deal.watch()

    # then the freelancer cannot submit, and neither party can ask again or open a dispute
    assert await refused(deal.submit(M1)) == [(ErrorCode.REFUND_PENDING, ("milestone_id",))]
    assert await refused(deal.request_refund(M1, amount="1.00")) == [
        (ErrorCode.REFUND_PENDING, ("milestone_id",))
    ]
    for party in (deal.client, deal.freelancer):
        assert await refused(deal.open_dispute(M1, by=party)) == [
            (ErrorCode.REFUND_PENDING, ("milestone_id",))
        ]
    assert await watch.events() == []


# --- answering --------------------------------------------------------------------------------


async def test_approving_a_whole_refund_returns_everything(deal: Deal) -> None:
    refund_id = await deal.request_refund(M1)
    watch = await deal.watch()

    await deal.answer_refund(refund_id, approve=True)

    m = await deal.milestone(M1)
    fl = deal.freelancer.user_id
    assert await watch.events() == [
        ("REFUND_APPROVED", fl, m.id, 10_000),
        ("MILESTONE_REFUNDED", fl, m.id, 10_000),
    ]
    assert await watch.entries() == [("REFUND", 10_000, m.id)]
    assert (m.status, m.refunded_amount, m.released_amount) == ("REFUNDED", 10_000, 0)
    request = await refund_row(refund_id)
    assert (request.status, request.response) == ("APPROVED", "Answer")
    assert request.resolved_at is not None
    # and the contract moves on: the next milestone may be funded
    await deal.fund(M2)


async def test_approving_a_partial_refund_pays_the_rest_to_the_freelancer(deal: Deal) -> None:
    # §6.13, §6.19: REFUND_APPROVED, MILESTONE_REFUNDED, MILESTONE_RELEASED; status RELEASED
    await deal.submit(M1)
    refund_id = await deal.request_refund(M1, amount="30.00")
    watch = await deal.watch()

    await deal.answer_refund(refund_id, approve=True)

    m = await deal.milestone(M1)
    fl = deal.freelancer.user_id
    assert await watch.events() == [
        ("REFUND_APPROVED", fl, m.id, 3_000),
        ("MILESTONE_REFUNDED", fl, m.id, 3_000),
        ("MILESTONE_RELEASED", fl, m.id, 7_000),
    ]
    assert await watch.entries() == ledger(
        ("REFUND", 3_000, m.id), ("RELEASE", 7_000, m.id), ("SERVICE_FEE", 700, m.id)
    )
    assert (m.status, m.refunded_amount, m.released_amount) == ("RELEASED", 3_000, 7_000)
    assert m.auto_release_at is None
    assert await deal.available() == 0


async def test_declining_resumes_the_review_clock_with_the_time_that_was_left(
    deal: Deal, clock: FrozenClock, runtime: Runtime
) -> None:
    # given work submitted at t0 (auto-release at t0 + 14 days)
    t0 = clock.now
    await deal.submit(M1)
    assert (await deal.milestone(M1)).auto_release_at == t0 + 14 * DAY
    # and a refund asked 5 days later (9 days of review left), answered 3 days after that
    clock.advance(5 * DAY)
    refund_id = await deal.request_refund(M1)
    clock.advance(3 * DAY)
    watch = await deal.watch()

    # when the freelancer declines
    await deal.answer_refund(refund_id, approve=False)

    # then the milestone is back where it was, with 9 days of review from now
    m = await deal.milestone(M1)
    assert (m.status, m.auto_release_at) == ("SUBMITTED", clock.now + 9 * DAY)
    assert m.auto_release_at == t0 + 17 * DAY
    assert m.review_seconds_left is None
    assert (await refund_row(refund_id)).status == "DECLINED"
    assert await watch.events() == [("REFUND_DECLINED", deal.freelancer.user_id, m.id, None)]
    assert await watch.entries() == []
    # and the clock really runs again: nothing before the new deadline, the release at it
    clock.advance(9 * DAY - timedelta(seconds=1))
    assert await run_due(runtime) == 0
    clock.advance(timedelta(seconds=1))
    assert await run_due(runtime) == 1
    assert (await deal.milestone(M1)).status == "RELEASED"


async def test_declining_a_refund_of_funded_work_lets_the_freelancer_submit(deal: Deal) -> None:
    refund_id = await deal.request_refund(M1)

    await deal.answer_refund(refund_id, approve=False)

    m = await deal.milestone(M1)
    assert (m.status, m.auto_release_at) == ("FUNDED", None)
    await deal.submit(M1)


async def test_only_the_freelancer_answers(deal: Deal, people: People) -> None:
    refund_id = await deal.request_refund(M1)

    assert await refused(deal.answer_refund(refund_id, approve=True, by=deal.client)) == [
        (ErrorCode.NOT_PERMITTED, None)
    ]
    assert await refused(deal.answer_refund(refund_id, approve=True, by=people.outsider.actor)) == [
        (ErrorCode.NOT_FOUND, ("refund_request_id",))
    ]
    assert (await refund_row(refund_id)).status == "PENDING"


@pytest.mark.parametrize("first", [True, False])
async def test_answering_a_request_no_longer_pending_is_invalid_state(
    deal: Deal, first: bool
) -> None:
    refund_id = await deal.request_refund(M1, amount="10.00")
    await deal.answer_refund(refund_id, approve=first)

    for approve in (True, False):
        assert await refused(deal.answer_refund(refund_id, approve=approve)) == [
            (ErrorCode.INVALID_STATE, None)
        ]


async def test_a_release_withdraws_a_pending_refund_request(deal: Deal) -> None:
    await deal.submit(M1)
    refund_id = await deal.request_refund(M1, amount="40.00")
    watch = await deal.watch()

    await deal.release(M1)

    m = await deal.milestone(M1)
    request = await refund_row(refund_id)
    assert (request.status, request.resolved_at) == ("WITHDRAWN", m.released_at)
    assert await watch.events() == [("MILESTONE_RELEASED", deal.client.user_id, m.id, 10_000)]
    assert await watch.entries() == ledger(("RELEASE", 10_000, m.id), ("SERVICE_FEE", 1_000, m.id))
    assert await refused(deal.answer_refund(refund_id, approve=True)) == [
        (ErrorCode.INVALID_STATE, None)
    ]


async def test_ending_the_contract_withdraws_a_pending_refund_request(deal: Deal) -> None:
    # §6.34: the freelancer ends the contract; all escrow goes back to the client
    refund_id = await deal.request_refund(M1, amount="40.00")
    watch = await deal.watch()

    await deal.end(by=deal.freelancer)

    assert (await refund_row(refund_id)).status == "WITHDRAWN"
    m = await deal.milestone(M1)
    assert (m.status, m.refunded_amount) == ("REFUNDED", 10_000)
    fl = deal.freelancer.user_id
    assert [e for e in await watch.events() if e[0] != "CONTRACT_ENDED"] == [
        ("MILESTONE_REFUNDED", fl, m.id, 10_000)
    ]


# --- no answer in time --------------------------------------------------------------------------


async def test_an_unanswered_request_is_approved_by_the_scheduler_after_seven_days(
    deal: Deal, clock: FrozenClock, runtime: Runtime
) -> None:
    refund_id = await deal.request_refund(M1, amount="40.00")
    clock.advance(7 * DAY - timedelta(seconds=1))
    assert await run_due(runtime) == 0
    assert (await refund_row(refund_id)).status == "PENDING"
    clock.advance(timedelta(seconds=1))
    watch = await deal.watch()

    assert await run_due(runtime) == 1

    m = await deal.milestone(M1)
    assert await watch.events() == [
        ("REFUND_APPROVED", None, m.id, 4_000),
        ("MILESTONE_REFUNDED", None, m.id, 4_000),
        ("MILESTONE_RELEASED", None, m.id, 6_000),
    ]
    assert await watch.entries() == ledger(
        ("REFUND", 4_000, m.id), ("RELEASE", 6_000, m.id), ("SERVICE_FEE", 600, m.id)
    )
    assert m.status == "RELEASED"
    request = await refund_row(refund_id)
    assert (request.status, request.resolved_at) == ("APPROVED", clock.now)
    # and a second pass has nothing left to do
    assert await run_due(runtime) == 0
    assert len(await watch.events()) == 3


async def test_a_late_answer_finds_the_request_already_approved(
    deal: Deal, clock: FrozenClock
) -> None:
    # §6.33: no scheduler ran, but the deadline takes effect before the late answer
    await deal.submit(M1)
    refund_id = await deal.request_refund(M1)
    clock.advance(7 * DAY + timedelta(hours=1))
    watch = await deal.watch()

    assert await refused(deal.answer_refund(refund_id, approve=False)) == [
        (ErrorCode.INVALID_STATE, None)
    ]

    # the automatic approval is stored although the late call was refused
    request = await refund_row(refund_id)
    assert request.status == "APPROVED"
    assert request.response is None
    m = await deal.milestone(M1)
    assert (m.status, m.refunded_amount, m.auto_release_at) == ("REFUNDED", 10_000, None)
    assert await watch.events() == [
        ("REFUND_APPROVED", None, m.id, 10_000),
        ("MILESTONE_REFUNDED", None, m.id, 10_000),
    ]
    assert await watch.entries() == [("REFUND", 10_000, m.id)]


async def test_a_late_approval_is_refused_too_and_approves_only_once(
    deal: Deal, clock: FrozenClock, runtime: Runtime
) -> None:
    refund_id = await deal.request_refund(M1, amount="25.00")
    clock.advance(8 * DAY)
    watch = await deal.watch()

    assert await refused(deal.answer_refund(refund_id, approve=True)) == [
        (ErrorCode.INVALID_STATE, None)
    ]
    assert await run_due(runtime) == 0

    assert [e[0] for e in await watch.events()] == [
        "REFUND_APPROVED",
        "MILESTONE_REFUNDED",
        "MILESTONE_RELEASED",
    ]
    assert await watch.entries() == ledger(
        ("REFUND", 2_500, deal.ids[M1]),
        ("RELEASE", 7_500, deal.ids[M1]),
        ("SERVICE_FEE", 750, deal.ids[M1]),
    )
