"""One upper bound for everything that becomes money (issue 7, point 10): `MAX_AMOUNT`
(1,000,000,000.00 by default) bounds every amount input and a piece-rate milestone's
unitPrice x maxUnits, a contract's bonuses together stay within it, and so no sequence of
accepted operations can overflow a ledger sum on SQLite (64-bit integers) or PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.client import Api
from tests.api.operations import (
    SUBMIT_MILESTONE,
    accept_contract,
    create_contract,
    fund_milestone,
    milestone_input,
    pay_bonus,
    raw_create_contract,
    raw_pay_bonus,
    raw_release_milestone,
    raw_submit_milestone,
    refusal,
    release_milestone,
)
from tests.api.people import Parties
from tests.api.scenarios import active, funded, milestone_ids, reread

MAX = "1000000000.00"
JUST_OVER = "1000000000.01"


def piece_rate(unit_price: str, max_units: int, title: str = "Units") -> dict[str, Any]:
    return milestone_input(None, title=title, unitPrice=unit_price, maxUnits=max_units)


async def test_an_amount_above_the_maximum_is_invalid_everywhere(
    api: Api, parties: Parties
) -> None:
    offer = await raw_create_contract(
        api,
        parties.client.token,
        parties.freelancer.id,
        [milestone_input(JUST_OVER), piece_rate(JUST_OVER, 1)],
    )
    contract = await funded(api, parties, "100.00")
    first = milestone_ids(contract)[0]
    before = await reread(api, parties, contract)

    release = await raw_release_milestone(api, parties.client.token, first, amount=JUST_OVER)
    bonus = await raw_pay_bonus(api, parties.client.token, contract["id"], JUST_OVER)
    submission = await raw_submit_milestone(
        api, parties.freelancer.token, first, requested_amount=JUST_OVER
    )

    assert refusal(offer) == [
        ("INVALID_AMOUNT", ["milestones", "0", "amount"]),
        ("INVALID_AMOUNT", ["milestones", "1", "unitPrice"]),
    ]
    assert refusal(release) == [("INVALID_AMOUNT", ["amount"])]
    assert refusal(bonus) == [("INVALID_AMOUNT", ["amount"])]
    assert refusal(submission) == [("INVALID_AMOUNT", ["requestedAmount"])]
    assert await reread(api, parties, contract) == before


@pytest.mark.parametrize(
    ("unit_price", "max_units"),
    [
        pytest.param("20.00", 100_000_000, id="maxUnits 100000000"),
        pytest.param("2.00", 500_000_001, id="a cent over"),
        pytest.param(MAX, 2**31 - 1, id="the largest of both"),
    ],
)
async def test_a_piece_rate_milestone_worth_more_than_the_maximum_is_invalid(
    api: Api, parties: Parties, unit_price: str, max_units: int
) -> None:
    payload = await raw_create_contract(
        api, parties.client.token, parties.freelancer.id, [piece_rate(unit_price, max_units)]
    )

    assert refusal(payload) == [("INVALID_AMOUNT", ["milestones", "0", "amount"])]
    assert payload["contract"] is None


async def test_a_piece_rate_milestone_worth_exactly_the_maximum_is_accepted(
    api: Api, parties: Parties
) -> None:
    payload = await create_contract(
        api, parties.client.token, parties.freelancer.id, [piece_rate("2.00", 500_000_000)]
    )

    assert payload["contract"]["milestones"][0]["amount"]["amount"] == MAX


async def test_two_huge_piece_rate_fundings_cannot_overflow_the_books(
    api: Api, parties: Parties
) -> None:
    # Before the bound, each milestone (5e18 cents) fitted a 64-bit integer and both together
    # did not: after the second funding SQLite's SUM overflowed, and every read of the contract
    # was INTERNAL for good.
    huge = [piece_rate(MAX, 50_000_000, "One"), piece_rate(MAX, 50_000_000, "Two")]

    payload = await raw_create_contract(api, parties.client.token, parties.freelancer.id, huge)

    assert refusal(payload) == [
        ("INVALID_AMOUNT", ["milestones", "0", "amount"]),
        ("INVALID_AMOUNT", ["milestones", "1", "amount"]),
    ]


async def test_the_largest_accepted_amounts_keep_every_read_working(
    api: Api, parties: Parties
) -> None:
    milestones = [
        piece_rate("2.00", 500_000_000, "Piece"),
        milestone_input(MAX, title="Fixed"),
        milestone_input("5.00", title="Over-released"),
    ]
    offer = await create_contract(api, parties.client.token, parties.freelancer.id, milestones)
    contract_id = offer["contract"]["id"]
    contract = (await accept_contract(api, parties.freelancer.token, contract_id))["contract"]
    piece, fixed, small = milestone_ids(contract)
    client = parties.client.token

    await fund_milestone(api, client, piece)
    await api.ok(
        SUBMIT_MILESTONE,
        {"input": {"milestoneId": piece, "message": "All", "units": 500_000_000}},
        parties.freelancer.token,
    )
    await release_milestone(api, client, piece)
    await fund_milestone(api, client, fixed)
    await release_milestone(api, client, fixed)
    await fund_milestone(api, client, small)
    await release_milestone(api, client, small, amount=MAX)
    await pay_bonus(api, client, contract_id, MAX)
    fresh = await reread(api, parties, contract)

    assert fresh["escrow"]["totalFunded"]["amount"] == "3000000000.00"
    assert fresh["escrow"]["totalReleased"]["amount"] == "3000000000.00"
    assert fresh["escrow"]["held"]["amount"] == "0.00"


async def test_a_contracts_bonuses_together_stay_within_the_maximum(
    api: Api, parties: Parties
) -> None:
    contract = await active(api, parties, "100.00")
    await pay_bonus(api, parties.client.token, contract["id"], "999999999.00")
    before = await reread(api, parties, contract)

    over = await raw_pay_bonus(api, parties.client.token, contract["id"], "1.01")
    after = await reread(api, parties, contract)
    last = await raw_pay_bonus(api, parties.client.token, contract["id"], "1.00")

    assert refusal(over) == [("INVALID_AMOUNT", ["amount"])]
    assert after == before
    assert last["userErrors"] == []
