"""Disputes through the services (docs/concepts.md#disputes, docs/rules.md#idempotency-keys,
docs/rules.md#milestones).

Either party opens a dispute on the active milestone, which freezes it; the opener may
withdraw it; an admin resolves it by splitting the remaining escrow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from app.db import models
from app.domain import commands
from app.domain.errors import ErrorCode
from app.domain.money import fee, parse_amount
from app.domain.permissions import Actor
from app.services import requests
from app.services.deadlines import run_due
from app.services.runtime import Runtime
from app.services.unit import Outcome
from tests.services.conftest import People
from tests.services.flows import Deal, Problem, ledger, piece, refused, typed_amount
from tests.support import FrozenClock, make_person

pytestmark = pytest.mark.usefixtures("books_stay_right")

DAY = timedelta(days=1)
M1, M2 = 0, 1


@pytest.fixture
async def admin(people: People, runtime: Runtime) -> Actor:
    return (await make_person(runtime, "Ada Admin", admin=True)).actor


def resolve(
    deal: Deal,
    dispute_id: int,
    by: Actor,
    freelancer: str,
    client: str,
    *,
    note: str | None = "Split",
    key: str | None = None,
) -> Awaitable[Outcome]:
    parts = {
        **typed_amount("freelancer_amount", freelancer),
        **typed_amount("client_amount", client),
    }
    rejected = (
        *typed_amount("freelancer_amount", freelancer).get("rejected", ()),
        *typed_amount("client_amount", client).get("rejected", ()),
    )
    command = commands.ResolveDispute(
        dispute_id=dispute_id, note=note, idempotency_key=key, **{**parts, "rejected": rejected}
    )
    return requests.resolve_dispute(deal.runtime, by, command)


async def dispute_row(dispute_id: int) -> models.Dispute:
    return await models.Dispute.get(id=dispute_id)


async def bring_to(deal: Deal, status: str) -> None:
    if status in ("SUBMITTED", "REVISION_REQUESTED"):
        await deal.submit(M1)
    if status == "REVISION_REQUESTED":
        await deal.revise(M1)


# --- opening ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["FUNDED", "SUBMITTED", "REVISION_REQUESTED"])
@pytest.mark.parametrize("opener", ["client", "freelancer"])
async def test_either_party_opens_a_dispute_on_the_active_milestone(
    deal: Deal, status: str, opener: str
) -> None:
    await bring_to(deal, status)
    by = deal.client if opener == "client" else deal.freelancer
    watch = await deal.watch()

    dispute_id = await deal.open_dispute(M1, by=by)

    m = await deal.milestone(M1)
    assert (m.status, m.auto_release_at) == ("DISPUTED", None)
    dispute = await dispute_row(dispute_id)
    assert (dispute.status, dispute.opened_by_id, dispute.previous_status) == (
        "OPEN",
        by.user_id,
        status,
    )
    assert await watch.events() == [("DISPUTE_OPENED", by.user_id, m.id, None)]
    assert await watch.entries() == []


async def test_a_dispute_needs_a_reason(deal: Deal) -> None:
    command = commands.OpenDispute(milestone_id=deal.ids[M1], reason="  ")
    step = requests.open_dispute(deal.runtime, deal.client, command)
    assert await refused(step) == [(ErrorCode.INVALID_INPUT, ("reason",))]


async def test_an_outsider_or_admin_cannot_open_a_dispute(
    deal: Deal, people: People, admin: Actor
) -> None:
    assert await refused(deal.open_dispute(M1, by=people.outsider.actor)) == [
        (ErrorCode.NOT_FOUND, ("milestone_id",))
    ]
    assert await refused(deal.open_dispute(M1, by=admin)) == [(ErrorCode.NOT_PERMITTED, None)]


async def test_a_milestone_that_is_not_active_cannot_be_disputed(deal: Deal) -> None:
    assert await refused(deal.open_dispute(M2)) == [(ErrorCode.INVALID_STATE, ("milestone_id",))]
    await deal.release(M1)
    assert await refused(deal.open_dispute(M1)) == [(ErrorCode.INVALID_STATE, ("milestone_id",))]


# --- the freeze ---------------------------------------------------------------------------------


async def test_a_disputed_milestone_is_frozen(deal: Deal) -> None:
    # given a dispute on submitted work
    await deal.submit(M1)
    await deal.open_dispute(M1, by=deal.freelancer)
    watch = await deal.watch()
    state: list[Problem] = [(ErrorCode.INVALID_STATE, ("milestone_id",))]
    steps: list[tuple[Callable[[], Awaitable[object]], list[Problem]]] = [
        (lambda: deal.submit(M1), state),
        (lambda: deal.release(M1), state),
        (lambda: deal.release(M1, amount="10.00"), state),
        (lambda: deal.revise(M1), state),
        (lambda: deal.request_refund(M1), state),
        (lambda: deal.open_dispute(M1), state),
        (lambda: deal.fund(M2), [(ErrorCode.ANOTHER_MILESTONE_ACTIVE, ("milestone_id",))]),
        (lambda: deal.end(by=deal.client), [(ErrorCode.INVALID_STATE, None)]),
        (lambda: deal.end(by=deal.freelancer), [(ErrorCode.INVALID_STATE, None)]),
    ]

    # then every other action is refused and nothing moves
    for step, expected in steps:
        assert await refused(step()) == expected
    assert (await deal.milestone(M1)).status == "DISPUTED"
    assert await watch.events() == []
    assert await watch.entries() == []


async def test_a_disputed_piece_rate_milestone_cannot_be_completed(
    runtime: Runtime, people: People
) -> None:
    deal = await Deal.active(
        runtime, people.client.actor, people.freelancer.actor, piece("10.00", 5)
    )
    await deal.fund(M1)
    await deal.open_dispute(M1)

    assert await refused(deal.complete(M1)) == [(ErrorCode.INVALID_STATE, ("milestone_id",))]


async def test_no_automatic_release_while_disputed(
    deal: Deal, clock: FrozenClock, runtime: Runtime
) -> None:
    await deal.submit(M1)
    clock.advance(DAY)
    await deal.open_dispute(M1)
    clock.advance(60 * DAY)
    watch = await deal.watch()

    assert await run_due(runtime) == 0

    assert (await deal.milestone(M1)).status == "DISPUTED"
    assert await watch.events() == []
    assert await watch.entries() == []


# --- withdrawing --------------------------------------------------------------------------------


async def test_withdrawing_gives_back_the_status_and_the_review_time_that_was_left(
    deal: Deal, clock: FrozenClock, runtime: Runtime
) -> None:
    # given work submitted, disputed by the client 4 days later (10 days of review left)
    await deal.submit(M1)
    clock.advance(4 * DAY)
    dispute_id = await deal.open_dispute(M1)
    clock.advance(20 * DAY)
    watch = await deal.watch()

    # when the client withdraws the dispute
    await deal.withdraw_dispute(dispute_id)

    # then the work is submitted again, with the 10 days that were left
    m = await deal.milestone(M1)
    assert (m.status, m.auto_release_at) == ("SUBMITTED", clock.now + 10 * DAY)
    dispute = await dispute_row(dispute_id)
    assert (dispute.status, dispute.resolved_at) == ("WITHDRAWN", clock.now)
    assert await watch.events() == [("DISPUTE_WITHDRAWN", deal.client.user_id, m.id, None)]
    assert await watch.entries() == []
    # and the window runs again
    clock.advance(10 * DAY)
    assert await run_due(runtime) == 1
    assert (await deal.milestone(M1)).status == "RELEASED"


@pytest.mark.parametrize("status", ["FUNDED", "REVISION_REQUESTED"])
async def test_withdrawing_restores_a_status_without_a_review_clock(
    deal: Deal, status: str
) -> None:
    await bring_to(deal, status)
    dispute_id = await deal.open_dispute(M1, by=deal.freelancer)

    await deal.withdraw_dispute(dispute_id, by=deal.freelancer)

    m = await deal.milestone(M1)
    assert (m.status, m.auto_release_at) == (status, None)


async def test_only_the_opener_withdraws_a_dispute(deal: Deal, admin: Actor) -> None:
    dispute_id = await deal.open_dispute(M1, by=deal.freelancer)

    for other in (deal.client, admin):
        assert await refused(deal.withdraw_dispute(dispute_id, by=other)) == [
            (ErrorCode.NOT_PERMITTED, None)
        ]
    assert (await dispute_row(dispute_id)).status == "OPEN"

    await deal.withdraw_dispute(dispute_id, by=deal.freelancer)
    assert await refused(deal.withdraw_dispute(dispute_id, by=deal.freelancer)) == [
        (ErrorCode.INVALID_STATE, None)
    ]


# --- resolving ----------------------------------------------------------------------------------


async def test_only_an_admin_resolves_a_dispute(deal: Deal, people: People) -> None:
    dispute_id = await deal.open_dispute(M1)

    for party in (deal.client, deal.freelancer):
        assert await refused(resolve(deal, dispute_id, party, "50.00", "50.00")) == [
            (ErrorCode.NOT_PERMITTED, None)
        ]
    assert await refused(resolve(deal, dispute_id, people.outsider.actor, "50.00", "50.00")) == [
        (ErrorCode.NOT_FOUND, ("dispute_id",))
    ]
    assert (await dispute_row(dispute_id)).status == "OPEN"


@pytest.mark.parametrize(
    ("freelancer", "client", "status"),
    [
        ("60.00", "40.00", "RELEASED"),
        ("100.00", "0.00", "RELEASED"),
        ("0.00", "100.00", "REFUNDED"),
        ("0", "100.00", "REFUNDED"),
        ("0.01", "99.99", "RELEASED"),
    ],
)
async def test_a_resolution_splits_the_escrow(
    deal: Deal, admin: Actor, clock: FrozenClock, freelancer: str, client: str, status: str
) -> None:
    # given a dispute on submitted work
    await deal.submit(M1)
    dispute_id = await deal.open_dispute(M1)
    clock.advance(DAY)
    watch = await deal.watch()

    # when the admin splits the escrow
    await resolve(deal, dispute_id, admin, freelancer, client, note="Half done")

    # then each part goes its way, with its own event and entry; the fee is the freelancer's
    m = await deal.milestone(M1)
    to_freelancer = parse_amount(freelancer, allow_zero=True)
    to_client = parse_amount(client, allow_zero=True)
    expected_events = [("DISPUTE_RESOLVED", admin.user_id, m.id, 10_000)]
    expected_entries = []
    if to_client:
        expected_events.append(("MILESTONE_REFUNDED", admin.user_id, m.id, to_client))
        expected_entries.append(("REFUND", to_client, m.id))
    if to_freelancer:
        expected_events.append(("MILESTONE_RELEASED", admin.user_id, m.id, to_freelancer))
        expected_entries.append(("RELEASE", to_freelancer, m.id))
        if fee(to_freelancer, 1_000):  # 10 %, rounded half up: none on 0.01
            expected_entries.append(("SERVICE_FEE", fee(to_freelancer, 1_000), m.id))
    assert await watch.events() == expected_events
    assert await watch.entries() == ledger(*expected_entries)
    assert (m.status, m.released_amount, m.refunded_amount) == (status, to_freelancer, to_client)
    assert m.auto_release_at is None
    dispute = await dispute_row(dispute_id)
    assert (
        dispute.status,
        dispute.freelancer_amount,
        dispute.client_amount,
        dispute.note,
        dispute.resolved_by_id,
        dispute.resolved_at,
    ) == ("RESOLVED", to_freelancer, to_client, "Half done", admin.user_id, clock.now)
    # and the contract moves on
    await deal.fund(M2)


@pytest.mark.parametrize(
    ("freelancer", "client", "field"),
    [
        ("60.00", "30.00", "freelancer_amount"),
        ("60.00", "50.00", "freelancer_amount"),
        ("0.00", "0.00", "freelancer_amount"),
        ("-10.00", "110.00", "freelancer_amount"),
        ("50.00", "50.001", "client_amount"),
        ("half", "50.00", "freelancer_amount"),
    ],
)
async def test_a_split_must_be_the_remaining_escrow_in_valid_amounts(
    deal: Deal, admin: Actor, freelancer: str, client: str, field: str
) -> None:
    dispute_id = await deal.open_dispute(M1)
    watch = await deal.watch()

    assert await refused(resolve(deal, dispute_id, admin, freelancer, client)) == [
        (ErrorCode.INVALID_AMOUNT, (field,))
    ]
    assert (await dispute_row(dispute_id)).status == "OPEN"
    assert await watch.events() == []


async def test_the_split_of_a_piece_rate_milestone_is_what_remains_unpaid(
    runtime: Runtime, people: People, admin: Actor
) -> None:
    # given 3 of 10 units at 10.00 paid: 70.00 remain in escrow
    deal = await Deal.active(
        runtime, people.client.actor, people.freelancer.actor, piece("10.00", 10)
    )
    await deal.fund(M1)
    await deal.submit(M1, units=3)
    await deal.release(M1)
    dispute_id = await deal.open_dispute(M1)

    assert await refused(resolve(deal, dispute_id, admin, "50.00", "50.00")) == [
        (ErrorCode.INVALID_AMOUNT, ("freelancer_amount",))
    ]
    await resolve(deal, dispute_id, admin, "0.00", "70.00")

    m = await deal.milestone(M1)
    # the freelancer was paid for 3 units before: RELEASED (§6.13)
    assert (m.status, m.released_amount, m.refunded_amount) == ("RELEASED", 3_000, 7_000)


async def test_a_settled_dispute_cannot_be_resolved_or_withdrawn_again(
    deal: Deal, admin: Actor
) -> None:
    dispute_id = await deal.open_dispute(M1)
    await resolve(deal, dispute_id, admin, "100.00", "0.00")

    assert await refused(resolve(deal, dispute_id, admin, "0.00", "0.00")) == [
        (ErrorCode.INVALID_STATE, None)
    ]
    assert await refused(deal.withdraw_dispute(dispute_id)) == [(ErrorCode.INVALID_STATE, None)]


async def test_a_withdrawn_dispute_cannot_be_resolved(deal: Deal, admin: Actor) -> None:
    dispute_id = await deal.open_dispute(M1)
    await deal.withdraw_dispute(dispute_id)

    assert await refused(resolve(deal, dispute_id, admin, "100.00", "0.00")) == [
        (ErrorCode.INVALID_STATE, None)
    ]


async def test_a_retried_resolution_replays_the_first_and_moves_no_money(
    deal: Deal, admin: Actor
) -> None:
    dispute_id = await deal.open_dispute(M1)
    first = await resolve(deal, dispute_id, admin, "70.00", "30.00", key="resolve-1")
    watch = await deal.watch()

    again = await resolve(deal, dispute_id, admin, "70.00", "30.00", key="resolve-1")

    assert again == first
    assert (again.dispute_id, again.milestone_id, again.problems) == (
        dispute_id,
        deal.ids[M1],
        (),
    )
    assert await watch.events() == []
    assert await watch.entries() == []


@pytest.mark.parametrize(
    ("freelancer", "client", "note"),
    [("60.00", "40.00", "Split"), ("70.00", "30.00", "Other note"), ("70.00", "30.00", None)],
)
async def test_a_key_reused_with_a_different_split_is_refused(
    deal: Deal, admin: Actor, freelancer: str, client: str, note: str | None
) -> None:
    dispute_id = await deal.open_dispute(M1)
    await resolve(deal, dispute_id, admin, "70.00", "30.00", note="Split", key="k")
    watch = await deal.watch()

    assert await refused(
        resolve(deal, dispute_id, admin, freelancer, client, note=note, key="k")
    ) == [(ErrorCode.IDEMPOTENCY_KEY_REUSED, ("idempotency_key",))]
    assert await watch.events() == []


async def test_a_refused_resolution_under_a_key_is_replayed_as_refused(
    deal: Deal, admin: Actor
) -> None:
    # §6.37: the stored outcome is replayed, userErrors included
    dispute_id = await deal.open_dispute(M1)
    first = await resolve(deal, dispute_id, admin, "10.00", "10.00", key="bad")
    assert [p.code for p in first.problems] == [ErrorCode.INVALID_AMOUNT]

    again = await resolve(deal, dispute_id, admin, "10.00", "10.00", key="bad")

    assert again.problems == first.problems
    assert (await dispute_row(dispute_id)).status == "OPEN"
