"""Deadlines: automatic release of unreviewed work
(docs/concepts.md#the-review-clock-and-automatic-release, docs/settings.md#settings,
docs/concepts.md#deadlines).

`run_due` is the scheduler's pass. A deadline that has passed also takes effect before any
later action on the contract, even if no scheduler ran; and however many schedulers run at
once, each deadline fires exactly once (on PostgreSQL the contract row lock guarantees it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta

import pytest

from app.db import models
from app.domain.errors import DomainError, ErrorCode
from app.services.deadlines import run_due
from app.services.runtime import Runtime
from tests.services.conftest import People
from tests.services.flows import Deal, fixed, ledger, refused
from tests.support import FrozenClock

pytestmark = pytest.mark.usefixtures("books_stay_right")

DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
M1, M2 = 0, 1


async def test_unreviewed_work_is_released_when_the_window_ends(
    deal: Deal, clock: FrozenClock, runtime: Runtime
) -> None:
    # given work submitted at t0
    t0 = clock.now
    await deal.submit(M1)
    m = await deal.milestone(M1)
    assert (m.submitted_at, m.auto_release_at) == (t0, t0 + 14 * DAY)

    # when the scheduler runs a second before the end of the window, then at its end
    clock.advance(14 * DAY - SECOND)
    assert await run_due(runtime) == 0
    assert (await deal.milestone(M1)).status == "SUBMITTED"
    clock.advance(SECOND)
    watch = await deal.watch()
    assert await run_due(runtime) == 1

    # then the requested amount is released, by nobody
    m = await deal.milestone(M1)
    assert (m.status, m.released_amount, m.released_at, m.auto_release_at) == (
        "RELEASED",
        10_000,
        t0 + 14 * DAY,
        None,
    )
    assert await watch.events() == [("MILESTONE_RELEASED", None, m.id, 10_000)]
    assert await watch.entries() == ledger(("RELEASE", 10_000, m.id), ("SERVICE_FEE", 1_000, m.id))
    submission = await models.Submission.get(milestone_id=m.id)
    assert submission.status == "RELEASED"


async def test_an_automatic_release_is_capped_at_the_remaining_escrow(
    deal: Deal, clock: FrozenClock, runtime: Runtime
) -> None:
    await deal.submit(M1, requested="150.00")
    clock.advance(15 * DAY)
    watch = await deal.watch()

    await run_due(runtime)

    m = await deal.milestone(M1)
    assert (m.status, m.funded_amount, m.released_amount) == ("RELEASED", 10_000, 10_000)
    assert await watch.events() == [("MILESTONE_RELEASED", None, m.id, 10_000)]
    # nothing is charged to the client: only the escrow goes
    assert await watch.entries() == ledger(("RELEASE", 10_000, m.id), ("SERVICE_FEE", 1_000, m.id))


async def test_an_automatic_release_of_less_leaves_the_rest_available(
    deal: Deal, clock: FrozenClock, runtime: Runtime
) -> None:
    await deal.submit(M1, requested="60.00")
    clock.advance(15 * DAY)

    await run_due(runtime)

    m = await deal.milestone(M1)
    assert (m.status, m.released_amount) == ("RELEASED", 6_000)
    assert await deal.available() == 4_000
    # and the rest pays towards the next milestone (50.00): only 10.00 is charged
    watch = await deal.watch()
    await deal.fund(M2)
    m2 = deal.ids[M2]
    assert await watch.entries() == ledger(("FUNDING", 1_000, m2), ("PROCESSING_FEE", 30, m2))
    assert await watch.events() == [("MILESTONE_FUNDED", deal.client.user_id, m2, 5_000)]


async def test_a_revision_request_stops_the_clock_and_a_resubmission_starts_a_new_window(
    deal: Deal, clock: FrozenClock, runtime: Runtime
) -> None:
    await deal.submit(M1)
    clock.advance(3 * DAY)
    await deal.revise(M1)
    assert (await deal.milestone(M1)).auto_release_at is None

    clock.advance(30 * DAY)
    assert await run_due(runtime) == 0
    assert (await deal.milestone(M1)).status == "REVISION_REQUESTED"

    await deal.submit(M1)
    resubmitted = clock.now
    assert (await deal.milestone(M1)).auto_release_at == resubmitted + 14 * DAY
    clock.advance(14 * DAY - SECOND)
    assert await run_due(runtime) == 0
    clock.advance(SECOND)
    assert await run_due(runtime) == 1
    assert (await deal.milestone(M1)).status == "RELEASED"


async def test_a_second_pass_does_nothing(deal: Deal, clock: FrozenClock, runtime: Runtime) -> None:
    await deal.submit(M1)
    clock.advance(14 * DAY)
    watch = await deal.watch()
    assert await run_due(runtime) == 1
    fired = (await watch.events(), await watch.entries())

    assert await run_due(runtime) == 0
    clock.advance(DAY)
    assert await run_due(runtime) == 0

    assert (await watch.events(), await watch.entries()) == fired


async def test_a_deadline_passed_during_downtime_fires_once(
    deal: Deal, clock: FrozenClock, runtime: Runtime
) -> None:
    await deal.submit(M1, requested="80.00")
    clock.advance(120 * DAY)
    watch = await deal.watch()

    assert await run_due(runtime) == 1
    assert await run_due(runtime) == 0

    m = await deal.milestone(M1)
    assert await watch.events() == [("MILESTONE_RELEASED", None, m.id, 8_000)]
    assert len([e for e in await watch.entries() if e[0] == "RELEASE"]) == 1
    # the next milestone is untouched: deadlines never fund anything
    assert await deal.statuses() == ["RELEASED", "NOT_FUNDED"]


async def test_a_late_release_finds_the_work_already_released(
    deal: Deal, clock: FrozenClock
) -> None:
    # §6.33: no scheduler ran; the late release is refused and the automatic one stays
    await deal.submit(M1, requested="70.00")
    clock.advance(14 * DAY + timedelta(minutes=5))
    watch = await deal.watch()

    assert await refused(deal.release(M1, amount="100.00")) == [
        (ErrorCode.INVALID_STATE, ("milestone_id",))
    ]

    m = await deal.milestone(M1)
    assert (m.status, m.released_amount) == ("RELEASED", 7_000)
    assert await watch.events() == [("MILESTONE_RELEASED", None, m.id, 7_000)]
    assert await watch.entries() == ledger(("RELEASE", 7_000, m.id), ("SERVICE_FEE", 700, m.id))


@pytest.mark.parametrize("late", ["revise", "dispute", "refund"])
async def test_any_late_action_on_the_milestone_finds_the_deadline_applied(
    deal: Deal, clock: FrozenClock, late: str
) -> None:
    await deal.submit(M1)
    clock.advance(20 * DAY)
    watch = await deal.watch()
    step: Awaitable[object]
    if late == "revise":
        step = deal.revise(M1)
    elif late == "dispute":
        step = deal.open_dispute(M1, by=deal.freelancer)
    else:
        step = deal.request_refund(M1)

    assert await refused(step) == [(ErrorCode.INVALID_STATE, ("milestone_id",))]

    assert await watch.events() == [("MILESTONE_RELEASED", None, deal.ids[M1], 10_000)]


async def test_an_action_elsewhere_on_the_contract_applies_the_deadline_first(
    deal: Deal, clock: FrozenClock
) -> None:
    # the client funds the next milestone after the window: the release comes first, so the
    # funding is not refused with ANOTHER_MILESTONE_ACTIVE
    await deal.submit(M1)
    clock.advance(14 * DAY)
    watch = await deal.watch()

    await deal.fund(M2)

    assert [(e[0], e[1]) for e in await watch.events()] == [
        ("MILESTONE_RELEASED", None),
        ("MILESTONE_FUNDED", deal.client.user_id),
    ]
    assert await deal.statuses() == ["RELEASED", "FUNDED"]


async def test_two_schedulers_at_once_fire_every_deadline_exactly_once(
    runtime: Runtime, people: People, clock: FrozenClock
) -> None:
    # given five contracts with work submitted and one with a refund request, all overdue
    client, freelancer = people.client.actor, people.freelancer.actor
    submitted = []
    for _ in range(5):
        deal = await Deal.active(runtime, client, freelancer, fixed("100.00"), fixed("50.00"))
        await deal.fund(M1)
        await deal.submit(M1, requested="90.00")
        submitted.append(deal)
    refunding = await Deal.active(runtime, client, freelancer, fixed("100.00"))
    await refunding.fund(M1)
    refund_id = await refunding.request_refund(M1, amount="30.00")
    clock.advance(15 * DAY)

    # when two scheduler passes run concurrently (then a third, for good measure)
    await asyncio.gather(run_due(runtime), run_due(runtime))
    assert await run_due(runtime) == 0

    # then each milestone was released once, with one RELEASE entry each
    for deal in submitted:
        m = await deal.milestone(M1)
        assert (m.status, m.released_amount) == ("RELEASED", 9_000)
        released = await models.ContractEvent.filter(
            milestone_id=m.id, type="MILESTONE_RELEASED"
        ).values_list("actor_id", "amount")
        assert released == [(None, 9_000)]
        kinds = await models.LedgerEntry.filter(milestone_id=m.id).values_list("kind", flat=True)
        assert sorted(str(kind) for kind in kinds) == [
            "FUNDING",
            "INITIATION_FEE",
            "PROCESSING_FEE",
            "RELEASE",
            "SERVICE_FEE",
        ]
    # and the refund request was approved once
    assert (await models.RefundRequest.get(id=refund_id)).status == "APPROVED"
    approved = await models.ContractEvent.filter(
        contract_id=refunding.id, type__in=["REFUND_APPROVED", "MILESTONE_REFUNDED"]
    ).count()
    assert approved == 2
    assert await models.LedgerEntry.filter(contract_id=refunding.id, kind="REFUND").count() == 1


async def test_many_schedulers_on_one_contract_release_once(
    deal: Deal, clock: FrozenClock, runtime: Runtime
) -> None:
    await deal.submit(M1)
    clock.advance(14 * DAY)
    watch = await deal.watch()

    await asyncio.gather(*(run_due(runtime) for _ in range(4)))

    assert await watch.events() == [("MILESTONE_RELEASED", None, deal.ids[M1], 10_000)]
    assert [e[0] for e in await watch.entries()] == ["RELEASE", "SERVICE_FEE"]


async def test_a_late_release_racing_the_scheduler_pays_once(
    deal: Deal, clock: FrozenClock, runtime: Runtime
) -> None:
    await deal.submit(M1)
    clock.advance(15 * DAY)
    watch = await deal.watch()

    results = await asyncio.gather(run_due(runtime), deal.release(M1), return_exceptions=True)

    # whichever came first, the other found the work released
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)]
    assert [e[0] for e in await watch.events()] == ["MILESTONE_RELEASED"]
    assert [e[0] for e in await watch.entries()] == ["RELEASE", "SERVICE_FEE"]


async def test_a_late_refund_answer_racing_the_scheduler_approves_once(
    deal: Deal, clock: FrozenClock, runtime: Runtime
) -> None:
    refund_id = await deal.request_refund(M1, amount="20.00")
    clock.advance(8 * DAY)
    watch = await deal.watch()

    await asyncio.gather(
        run_due(runtime), deal.answer_refund(refund_id, approve=False), return_exceptions=True
    )

    assert (await models.RefundRequest.get(id=refund_id)).status == "APPROVED"
    assert [e[0] for e in await watch.events()] == [
        "REFUND_APPROVED",
        "MILESTONE_REFUNDED",
        "MILESTONE_RELEASED",
    ]
