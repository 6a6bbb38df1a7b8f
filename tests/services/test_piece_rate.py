"""Piece-rate milestones through the services (docs/concepts.md#piece-rate-milestones,
docs/rules.md#milestone-fields, docs/concepts.md#release,
§6.35).

A piece-rate milestone funds `unitPrice x maxUnits`; the freelancer submits units, each
approval pays `units x unitPrice` and the milestone stays active while units remain; the
client may complete it early, and what was not paid becomes available escrow.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.db import models
from app.domain.commands import CreateContract, NewMilestone
from app.domain.errors import ErrorCode
from app.services import contracts
from app.services.deadlines import run_due
from app.services.runtime import Runtime
from tests.services.conftest import People
from tests.services.flows import Deal, fixed, ledger, maybe_cents, piece, refused
from tests.support import FrozenClock

pytestmark = pytest.mark.usefixtures("books_stay_right")

DAY = timedelta(days=1)
P, NEXT = 0, 1


@pytest.fixture
async def deal(runtime: Runtime, people: People) -> Deal:
    """An active contract: 10 units at 10.00 (funded), then a fixed 50.00 milestone."""
    deal = await Deal.active(
        runtime,
        people.client.actor,
        people.freelancer.actor,
        piece("10.00", 10),
        fixed("50.00", "Next"),
    )
    await deal.fund(P)
    return deal


async def offer(runtime: Runtime, people: People, draft: NewMilestone) -> object:
    command = CreateContract(
        freelancer_id=people.freelancer.actor.user_id, title="Units", milestones=(draft,)
    )
    return await contracts.create_contract(runtime, people.client.actor, command)


# --- the amount -----------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [None, "100.00"])
async def test_the_amount_is_unit_price_times_max_units(
    runtime: Runtime, people: People, amount: str | None
) -> None:
    await offer(runtime, people, piece("2.50", 40, amount=amount))

    m = await models.Milestone.get()
    assert (m.unit_price, m.max_units, m.amount, m.units_released) == (250, 40, 10_000, 0)


async def test_an_amount_other_than_the_product_is_invalid_input(
    runtime: Runtime, people: People
) -> None:
    assert await refused(offer(runtime, people, piece("2.50", 40, amount="99.00"))) == [
        (ErrorCode.INVALID_INPUT, ("milestones", "0", "amount"))
    ]


async def test_a_product_below_the_minimum_is_too_small(runtime: Runtime, people: People) -> None:
    # a unit price has no minimum, the milestone's total has
    await offer(runtime, people, piece("0.01", 500))
    assert await refused(offer(runtime, people, piece("0.49", 10))) == [
        (ErrorCode.AMOUNT_TOO_SMALL, ("milestones", "0", "amount"))
    ]


@pytest.mark.parametrize(
    ("unit_price", "max_units", "field"),
    [(None, 10, "unit_price"), ("1.00", None, "max_units"), ("1.00", 0, "max_units")],
)
async def test_a_piece_rate_milestone_needs_both_unit_price_and_max_units(
    runtime: Runtime, people: People, unit_price: str | None, max_units: int | None, field: str
) -> None:
    draft = NewMilestone(title="Units", unit_price=maybe_cents(unit_price), max_units=max_units)
    assert (ErrorCode.INVALID_INPUT, ("milestones", "0", field)) in await refused(
        offer(runtime, people, draft)
    )


async def test_funding_funds_the_whole_cap(deal: Deal) -> None:
    m = await deal.milestone(P)
    assert (m.status, m.funded_amount) == ("FUNDED", 10_000)


# --- submissions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("units", [None, 0, 11, -1])
async def test_a_submission_needs_units_that_remain(deal: Deal, units: int | None) -> None:
    assert await refused(deal.submit(P, units=units)) == [(ErrorCode.INVALID_INPUT, ("units",))]


async def test_a_submission_cannot_ask_for_more_units_than_remain_after_a_payment(
    deal: Deal,
) -> None:
    await deal.submit(P, units=4)
    await deal.release(P)

    assert await refused(deal.submit(P, units=7)) == [(ErrorCode.INVALID_INPUT, ("units",))]
    await deal.submit(P, units=6)


async def test_a_requested_amount_must_match_the_units(deal: Deal) -> None:
    assert await refused(deal.submit(P, units=3, requested="40.00")) == [
        (ErrorCode.INVALID_INPUT, ("requested_amount",))
    ]
    await deal.submit(P, units=3, requested="30.00")


async def test_units_are_refused_on_a_fixed_price_milestone(
    runtime: Runtime, people: People
) -> None:
    deal = await Deal.active(runtime, people.client.actor, people.freelancer.actor)
    await deal.fund(0)

    assert await refused(deal.submit(0, units=2)) == [(ErrorCode.INVALID_INPUT, ("units",))]


async def test_a_submission_asks_for_units_times_unit_price(deal: Deal) -> None:
    watch = await deal.watch()

    await deal.submit(P, units=3)

    submission = await models.Submission.get(milestone_id=deal.ids[P])
    assert (submission.units, submission.requested_amount) == (3, 3_000)
    assert await watch.events() == [
        ("MILESTONE_SUBMITTED", deal.freelancer.user_id, deal.ids[P], 3_000)
    ]


# --- releases -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["FUNDED", "REVISION_REQUESTED"])
async def test_a_release_needs_submitted_units(deal: Deal, status: str) -> None:
    if status == "REVISION_REQUESTED":
        await deal.submit(P, units=2)
        await deal.revise(P)

    assert await refused(deal.release(P)) == [(ErrorCode.INVALID_STATE, ("milestone_id",))]
    assert await refused(deal.release(P, amount="20.00")) == [
        (ErrorCode.INVALID_STATE, ("milestone_id",))
    ]


@pytest.mark.parametrize("amount", [None, "30.00"])
async def test_a_partial_payment_leaves_the_milestone_funded(
    deal: Deal, amount: str | None
) -> None:
    await deal.submit(P, units=3)
    watch = await deal.watch()

    await deal.release(P, amount=amount)

    m = await deal.milestone(P)
    assert (m.status, m.units_released, m.released_amount, m.auto_release_at) == (
        "FUNDED",
        3,
        3_000,
        None,
    )
    assert await watch.events() == [("MILESTONE_RELEASED", deal.client.user_id, m.id, 3_000)]
    assert await watch.entries() == ledger(("RELEASE", 3_000, m.id), ("SERVICE_FEE", 300, m.id))
    # still the active milestone: the next cannot be funded yet
    assert await refused(deal.fund(NEXT)) == [
        (ErrorCode.ANOTHER_MILESTONE_ACTIVE, ("milestone_id",))
    ]


@pytest.mark.parametrize("amount", ["20.00", "40.00", "100.00"])
async def test_a_release_of_another_amount_than_the_units_is_invalid_amount(
    deal: Deal, amount: str
) -> None:
    await deal.submit(P, units=3)

    assert await refused(deal.release(P, amount=amount)) == [
        (ErrorCode.INVALID_AMOUNT, ("amount",))
    ]
    assert (await deal.milestone(P)).status == "SUBMITTED"


async def test_paying_every_unit_releases_the_milestone(deal: Deal) -> None:
    await deal.submit(P, units=3)
    await deal.release(P)
    await deal.submit(P, units=7)
    watch = await deal.watch()

    await deal.release(P)

    m = await deal.milestone(P)
    assert (m.status, m.units_released, m.released_amount) == ("RELEASED", 10, 10_000)
    assert await watch.events() == [("MILESTONE_RELEASED", deal.client.user_id, m.id, 7_000)]
    assert await deal.available() == 0
    await deal.fund(NEXT)


async def test_unreviewed_units_are_paid_automatically(
    deal: Deal, clock: FrozenClock, runtime: Runtime
) -> None:
    await deal.submit(P, units=4)
    assert (await deal.milestone(P)).auto_release_at == clock.now + 14 * DAY
    clock.advance(14 * DAY)
    watch = await deal.watch()

    assert await run_due(runtime) == 1

    m = await deal.milestone(P)
    assert (m.status, m.units_released, m.released_amount, m.auto_release_at) == (
        "FUNDED",
        4,
        4_000,
        None,
    )
    assert await watch.events() == [("MILESTONE_RELEASED", None, m.id, 4_000)]
    assert await watch.entries() == ledger(("RELEASE", 4_000, m.id), ("SERVICE_FEE", 400, m.id))
    assert await run_due(runtime) == 0


# --- completing -----------------------------------------------------------------------------------


async def test_only_the_client_completes_a_piece_rate_milestone(
    deal: Deal, runtime: Runtime, people: People
) -> None:
    assert await refused(deal.complete(P, by=deal.freelancer)) == [(ErrorCode.NOT_PERMITTED, None)]
    fixed_price = await Deal.active(runtime, people.client.actor, people.freelancer.actor)
    await fixed_price.fund(0)
    assert await refused(fixed_price.complete(0)) == [(ErrorCode.INVALID_STATE, ("milestone_id",))]


async def test_completing_after_a_payment_releases_and_the_rest_pays_the_next_funding(
    deal: Deal, books_stay_right: None
) -> None:
    # given 3 units paid: 70.00 left in the milestone's escrow
    await deal.submit(P, units=3)
    await deal.release(P)
    watch = await deal.watch()

    # when the client completes the milestone
    await deal.complete(P)

    # then it is RELEASED, no money moves, and the rest becomes available
    m = await deal.milestone(P)
    assert (m.status, m.units_released, m.released_amount) == ("RELEASED", 3, 3_000)
    assert await watch.entries() == []
    assert await deal.available() == 7_000
    # and the next funding (50.00) takes it from available escrow, charging nothing
    await deal.fund(NEXT)
    assert await watch.entries() == []
    assert await deal.available() == 2_000
    # and what is still available goes back to the client at the end
    await deal.release(NEXT)
    end = await deal.watch()
    await deal.end()
    assert ("REFUND", 2_000, None) in await end.entries()
    assert (await end.events())[-1] == ("CONTRACT_ENDED", deal.client.user_id, None, 2_000)


async def test_completing_without_any_payment_cancels_and_the_rest_goes_back_at_the_end(
    deal: Deal,
) -> None:
    await deal.complete(P)

    m = await deal.milestone(P)
    assert (m.status, m.units_released, m.released_amount) == ("CANCELLED", 0, 0)
    assert await deal.available() == 10_000
    watch = await deal.watch()

    await deal.end()

    # the whole escrow comes back, and the initiation fee with it: nothing was ever released
    entries = await watch.entries()
    assert ("REFUND", 10_000, None) in entries
    assert ("FEE_REFUND", 495, None) in entries
    assert await deal.statuses() == ["CANCELLED", "CANCELLED"]


async def test_completing_records_an_event(deal: Deal) -> None:
    # §6.19: one event per state change; the milestone goes from FUNDED to RELEASED/CANCELLED
    watch = await deal.watch()

    await deal.complete(P)

    events = await watch.events()
    assert [e for e in events if e[2] == deal.ids[P] and e[1] == deal.client.user_id], events


async def test_submitted_units_must_be_answered_before_completing(deal: Deal) -> None:
    await deal.submit(P, units=2)

    assert await refused(deal.complete(P)) == [(ErrorCode.INVALID_STATE, ("milestone_id",))]


async def test_completing_withdraws_a_pending_refund(deal: Deal) -> None:
    refund_id = await deal.request_refund(P, amount="10.00")

    await deal.complete(P)

    assert (await models.RefundRequest.get(id=refund_id)).status == "WITHDRAWN"


# --- refunds --------------------------------------------------------------------------------------


async def test_an_approved_refund_leaves_the_rest_available_not_paid(
    deal: Deal, books_stay_right: None
) -> None:
    # §6.35: given 3 units paid (70.00 left), a refund of 20.00 approved
    await deal.submit(P, units=3)
    await deal.release(P)
    refund_id = await deal.request_refund(P, amount="20.00")
    watch = await deal.watch()

    await deal.answer_refund(refund_id, approve=True)

    m = await deal.milestone(P)
    fl = deal.freelancer.user_id
    assert await watch.events() == [
        ("REFUND_APPROVED", fl, m.id, 2_000),
        ("MILESTONE_REFUNDED", fl, m.id, 2_000),
    ]
    assert await watch.entries() == [("REFUND", 2_000, m.id)]
    # units were paid before, so RELEASED (§6.13); the undelivered 50.00 is available
    assert (m.status, m.released_amount, m.refunded_amount) == ("RELEASED", 3_000, 2_000)
    assert await deal.available() == 5_000


async def test_a_whole_refund_asks_for_what_remains_unpaid(deal: Deal) -> None:
    await deal.submit(P, units=3)
    await deal.release(P)

    refund_id = await deal.request_refund(P)

    assert (await models.RefundRequest.get(id=refund_id)).amount == 7_000


async def test_an_approved_refund_before_any_unit_is_refunded(
    deal: Deal, clock: FrozenClock, runtime: Runtime, books_stay_right: None
) -> None:
    refund_id = await deal.request_refund(P, amount="30.00")
    clock.advance(7 * DAY)

    await run_due(runtime)

    m = await deal.milestone(P)
    assert (m.status, m.released_amount, m.refunded_amount) == ("REFUNDED", 0, 3_000)
    assert (await models.RefundRequest.get(id=refund_id)).status == "APPROVED"
    assert await deal.available() == 7_000
    # the next milestone is funded from it
    watch = await deal.watch()
    await deal.fund(NEXT)
    assert await watch.entries() == []
