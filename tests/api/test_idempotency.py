"""Idempotency keys on the money-moving mutations (§3, §6.27, §6.37): a retry returns the first
result and moves no money again; the same key with another input is refused; a key belongs to
one user and one mutation."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.api.client import Api
from tests.api.operations import (
    codes,
    entries,
    events,
    fund_milestone,
    pay_bonus,
    raw_fund_milestone,
    raw_pay_bonus,
    raw_release_milestone,
    refusal,
    release_milestone,
    submit_milestone,
)
from tests.api.people import Parties
from tests.api.scenarios import active, funded, milestone_ids, offered, reread, submitted
from tests.support import FrozenClock

KEY = "7d4f6c1e-retry-me"


async def test_funding_retried_with_the_same_key_moves_money_once(
    api: Api, parties: Parties, clock: FrozenClock
) -> None:
    contract = await active(api, parties, "100.00", "50.00")
    first, _ = milestone_ids(contract)

    once = await fund_milestone(api, parties.client.token, first, idempotency_key=KEY)
    twice = await fund_milestone(api, parties.client.token, first, idempotency_key=KEY)
    clock.advance(timedelta(hours=23, minutes=59))
    a_day_later = await fund_milestone(api, parties.client.token, first, idempotency_key=KEY)

    assert twice == once
    assert a_day_later == once
    final = await reread(api, parties, contract)
    assert len(entries(final)) == 3
    assert final["escrow"]["totalFunded"]["amount"] == "100.00"
    assert [t for _, t, _ in events(final)].count("MILESTONE_FUNDED") == 1


async def test_a_release_retried_with_the_same_key_moves_money_once(
    api: Api, parties: Parties
) -> None:
    contract = await submitted(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)

    once = await release_milestone(
        api, parties.client.token, milestone, amount="40.00", idempotency_key=KEY
    )
    twice = await release_milestone(
        api, parties.client.token, milestone, amount="40.00", idempotency_key=KEY
    )

    assert twice == once
    final = await reread(api, parties, contract)
    assert [kind for kind, _ in entries(final)].count("RELEASE") == 1
    assert final["escrow"]["totalReleased"]["amount"] == "40.00"


async def test_a_bonus_retried_with_the_same_key_is_paid_once(api: Api, parties: Parties) -> None:
    contract = await active(api, parties, "100.00")

    once = await pay_bonus(
        api, parties.client.token, contract["id"], "20.00", note="Thanks", idempotency_key=KEY
    )
    twice = await pay_bonus(
        api, parties.client.token, contract["id"], "20.00", note="Thanks", idempotency_key=KEY
    )

    assert twice == once
    final = await reread(api, parties, contract)
    assert len(entries(final)) == 3
    assert [kind for kind, _ in entries(final)].count("BONUS") == 1


async def test_a_retry_reads_the_objects_fresh(api: Api, parties: Parties) -> None:
    contract = await active(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)
    await fund_milestone(api, parties.client.token, milestone, idempotency_key=KEY)
    await submit_milestone(api, parties.freelancer.token, milestone)
    await release_milestone(api, parties.client.token, milestone)
    count = len(entries(await reread(api, parties, contract)))

    retry = await fund_milestone(api, parties.client.token, milestone, idempotency_key=KEY)

    assert retry["milestone"]["id"] == milestone
    assert retry["milestone"]["status"] == "RELEASED"
    assert len(entries(await reread(api, parties, contract))) == count


async def test_the_same_key_with_another_milestone_is_reused(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00", "50.00")
    first, second = milestone_ids(contract)
    await release_milestone(api, parties.client.token, first, idempotency_key=KEY)
    before = await reread(api, parties, contract)

    payload = await raw_release_milestone(api, parties.client.token, second, idempotency_key=KEY)

    assert codes(payload) == ["IDEMPOTENCY_KEY_REUSED"]
    assert await reread(api, parties, contract) == before


async def test_the_same_key_with_another_amount_is_reused(api: Api, parties: Parties) -> None:
    contract = await submitted(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)
    await release_milestone(
        api, parties.client.token, milestone, amount="40.00", idempotency_key=KEY
    )

    other_amount = await raw_release_milestone(
        api, parties.client.token, milestone, amount="50.00", idempotency_key=KEY
    )
    other_flag = await raw_release_milestone(
        api, parties.client.token, milestone, amount="40.00", end_contract=True, idempotency_key=KEY
    )

    assert codes(other_amount) == ["IDEMPOTENCY_KEY_REUSED"]
    assert codes(other_flag) == ["IDEMPOTENCY_KEY_REUSED"]


async def test_the_same_key_with_another_bonus_note_is_reused(api: Api, parties: Parties) -> None:
    contract = await active(api, parties, "100.00")
    await pay_bonus(api, parties.client.token, contract["id"], "20.00", idempotency_key=KEY)

    other_amount = await raw_pay_bonus(
        api, parties.client.token, contract["id"], "25.00", idempotency_key=KEY
    )
    other_note = await raw_pay_bonus(
        api, parties.client.token, contract["id"], "20.00", note="Extra", idempotency_key=KEY
    )

    assert codes(other_amount) == ["IDEMPOTENCY_KEY_REUSED"]
    assert codes(other_note) == ["IDEMPOTENCY_KEY_REUSED"]
    assert [kind for kind, _ in entries(await reread(api, parties, contract))].count("BONUS") == 1


async def test_a_key_over_255_characters_is_invalid_input(api: Api, parties: Parties) -> None:
    contract = await active(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)

    too_long = await raw_fund_milestone(
        api, parties.client.token, milestone, idempotency_key="k" * 256
    )
    bonus = await raw_pay_bonus(
        api, parties.client.token, contract["id"], "5.00", idempotency_key="k" * 256
    )
    longest = await raw_fund_milestone(
        api, parties.client.token, milestone, idempotency_key="k" * 255
    )

    assert refusal(too_long) == [("INVALID_INPUT", ["idempotencyKey"])]
    assert refusal(bonus) == [("INVALID_INPUT", ["idempotencyKey"])]
    assert longest["userErrors"] == []
    assert longest["milestone"]["status"] == "FUNDED"


async def test_a_refused_request_is_replayed_with_its_user_errors(
    api: Api, parties: Parties
) -> None:
    # given funding out of order, refused under a key
    contract = await active(api, parties, "100.00", "50.00")
    first, second = milestone_ids(contract)
    refused = await raw_fund_milestone(api, parties.client.token, second, idempotency_key=KEY)
    assert codes(refused) == ["MILESTONE_OUT_OF_ORDER"]

    # when the second milestone becomes fundable and the request is retried with the same key
    await fund_milestone(api, parties.client.token, first)
    await release_milestone(api, parties.client.token, first)
    retry = await raw_fund_milestone(api, parties.client.token, second, idempotency_key=KEY)

    # then the refusal is replayed and nothing is funded
    assert retry["userErrors"] == refused["userErrors"]
    final = await reread(api, parties, contract)
    assert final["milestones"][1]["status"] == "NOT_FUNDED"


async def test_a_refusal_under_a_key_returns_no_object(api: Api, parties: Parties) -> None:
    contract = await active(api, parties, "100.00", "50.00")
    _, second = milestone_ids(contract)

    refused = await raw_fund_milestone(api, parties.client.token, second, idempotency_key=KEY)

    assert codes(refused) == ["MILESTONE_OUT_OF_ORDER"]
    assert refused["milestone"] is None
    assert refused["contract"] is None


async def test_a_key_is_scoped_per_user(api: Api, parties: Parties) -> None:
    # given two clients, each with an active contract with the same freelancer
    mine = await active(api, parties, "100.00")
    swapped = Parties(
        client=parties.outsider,
        freelancer=parties.freelancer,
        outsider=parties.client,
        admin=parties.admin,
    )
    theirs = await active(api, swapped, "100.00")

    # when both pay a bonus under the same key
    await pay_bonus(api, parties.client.token, mine["id"], "20.00", idempotency_key=KEY)
    other = await pay_bonus(api, parties.outsider.token, theirs["id"], "30.00", idempotency_key=KEY)

    # then both are paid
    assert other["contract"]["id"] == theirs["id"]
    assert ("BONUS", "30.00") in entries(await reread(api, swapped, theirs))
    assert ("BONUS", "20.00") in entries(await reread(api, parties, mine))


async def test_a_key_is_scoped_per_mutation(api: Api, parties: Parties) -> None:
    contract = await active(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)

    await fund_milestone(api, parties.client.token, milestone, idempotency_key=KEY)
    release = await release_milestone(api, parties.client.token, milestone, idempotency_key=KEY)
    bonus = await pay_bonus(api, parties.client.token, contract["id"], "5.00", idempotency_key=KEY)

    assert release["milestone"]["status"] == "RELEASED"
    kinds = [kind for kind, _ in entries(await reread(api, parties, contract))]
    assert kinds.count("FUNDING") == 1
    assert kinds.count("RELEASE") == 1
    assert kinds.count("BONUS") == 1
    assert bonus["contract"]["id"] == contract["id"]


async def test_a_key_used_on_an_offer_by_the_client_is_not_shared_with_the_freelancer(
    api: Api, parties: Parties
) -> None:
    contract = await offered(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)
    await fund_milestone(api, parties.client.token, milestone, idempotency_key=KEY)

    payload = await raw_fund_milestone(
        api, parties.freelancer.token, milestone, idempotency_key=KEY
    )

    assert codes(payload) == ["NOT_PERMITTED"]


async def test_concurrent_duplicates_move_money_once(api: Api, parties: Parties) -> None:
    contract = await active(api, parties, "100.00")

    results = await asyncio.gather(
        *(
            raw_pay_bonus(api, parties.client.token, contract["id"], "20.00", idempotency_key=KEY)
            for _ in range(3)
        )
    )

    assert all(r["userErrors"] == [] for r in results), results
    assert [kind for kind, _ in entries(await reread(api, parties, contract))].count("BONUS") == 1
