"""Input rules: amounts (§3, §6.7), the milestone minimum and count, currencies, and every bad
field reported at once with its path inside `input` (§6.28, §6.31)."""

from __future__ import annotations

import pytest

from tests.api.client import Api
from tests.api.operations import (
    create_contract,
    milestone_input,
    raw_create_contract,
    raw_pay_bonus,
    raw_release_milestone,
    raw_submit_milestone,
    refusal,
)
from tests.api.people import Parties
from tests.api.scenarios import active, funded, milestone_ids, reread

BAD_AMOUNTS = ["abc", "0", "0.00", "-5", "-5.00", "1.234", "", "NaN", "Infinity"]


async def test_a_bad_milestone_amount_is_invalid(api: Api, parties: Parties) -> None:
    for amount in BAD_AMOUNTS:
        payload = await raw_create_contract(
            api, parties.client.token, parties.freelancer.id, [milestone_input(amount)]
        )

        assert refusal(payload) == [("INVALID_AMOUNT", ["milestones", "0", "amount"])], amount
        assert payload["contract"] is None


async def test_a_bad_release_amount_is_invalid(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00")
    before = await reread(api, parties, contract)

    for amount in BAD_AMOUNTS:
        payload = await raw_release_milestone(
            api, parties.client.token, milestone_ids(contract)[0], amount=amount
        )

        assert refusal(payload) == [("INVALID_AMOUNT", ["amount"])], amount
    assert await reread(api, parties, contract) == before


async def test_a_bad_bonus_amount_is_invalid(api: Api, parties: Parties) -> None:
    contract = await active(api, parties, "100.00")
    before = await reread(api, parties, contract)

    for amount in BAD_AMOUNTS:
        payload = await raw_pay_bonus(api, parties.client.token, contract["id"], amount)

        assert refusal(payload) == [("INVALID_AMOUNT", ["amount"])], amount
    assert await reread(api, parties, contract) == before


async def test_a_bad_requested_amount_is_invalid(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00")

    for amount in ("abc", "0", "-5", "1.234"):
        payload = await raw_submit_milestone(
            api, parties.freelancer.token, milestone_ids(contract)[0], requested_amount=amount
        )

        assert refusal(payload) == [("INVALID_AMOUNT", ["requestedAmount"])], amount


async def test_a_milestone_below_five_dollars_is_too_small(api: Api, parties: Parties) -> None:
    payload = await raw_create_contract(
        api,
        parties.client.token,
        parties.freelancer.id,
        [milestone_input("5.00"), milestone_input("4.99")],
    )

    assert refusal(payload) == [("AMOUNT_TOO_SMALL", ["milestones", "1", "amount"])]


async def test_a_milestone_of_exactly_five_dollars_is_accepted(api: Api, parties: Parties) -> None:
    payload = await create_contract(
        api, parties.client.token, parties.freelancer.id, [milestone_input("5")]
    )

    assert payload["contract"]["milestones"][0]["amount"]["amount"] == "5.00"


async def test_an_amount_is_checked_as_a_number_before_the_minimum(
    api: Api, parties: Parties
) -> None:
    payload = await raw_create_contract(
        api, parties.client.token, parties.freelancer.id, [milestone_input("4.999")]
    )

    assert refusal(payload) == [("INVALID_AMOUNT", ["milestones", "0", "amount"])]


async def test_a_contract_may_have_200_milestones_but_not_201(api: Api, parties: Parties) -> None:
    many = [milestone_input("5.00", title=f"Part {i}") for i in range(201)]

    refused = await raw_create_contract(api, parties.client.token, parties.freelancer.id, many)
    allowed = await create_contract(api, parties.client.token, parties.freelancer.id, many[:200])

    assert refusal(refused) == [("TOO_MANY_MILESTONES", ["milestones"])]
    assert len(allowed["contract"]["milestones"]) == 200
    assert allowed["contract"]["milestones"][-1]["position"] == 200


async def test_an_unknown_currency_is_invalid_input(api: Api, parties: Parties) -> None:
    payload = await raw_create_contract(
        api, parties.client.token, parties.freelancer.id, [milestone_input()], currency="XYZ"
    )

    assert refusal(payload) == [("INVALID_INPUT", ["currency"])]


@pytest.mark.parametrize("currency", ["USD", "EUR", "GBP", "CAD", "AUD"])
async def test_each_supported_currency_is_accepted(
    api: Api, parties: Parties, currency: str
) -> None:
    payload = await create_contract(
        api, parties.client.token, parties.freelancer.id, [milestone_input()], currency=currency
    )

    assert payload["contract"]["currency"] == currency
    assert payload["contract"]["milestones"][0]["amount"] == {
        "amount": "100.00",
        "currency": currency,
    }


async def test_every_bad_field_of_an_offer_is_reported_at_once(api: Api, parties: Parties) -> None:
    payload = await raw_create_contract(
        api,
        parties.client.token,
        parties.freelancer.id,
        [milestone_input("abc"), milestone_input("1.00"), milestone_input("10.00", title="")],
        title="",
        currency="XYZ",
    )

    assert sorted(refusal(payload)) == sorted(
        [
            ("INVALID_INPUT", ["title"]),
            ("INVALID_INPUT", ["currency"]),
            ("INVALID_AMOUNT", ["milestones", "0", "amount"]),
            ("AMOUNT_TOO_SMALL", ["milestones", "1", "amount"]),
            ("INVALID_INPUT", ["milestones", "2", "title"]),
        ]
    )
    assert payload["contract"] is None


async def test_an_offer_needs_a_milestone(api: Api, parties: Parties) -> None:
    payload = await raw_create_contract(api, parties.client.token, parties.freelancer.id, [])

    assert refusal(payload) == [("INVALID_INPUT", ["milestones"])]


async def test_a_milestone_needs_an_amount(api: Api, parties: Parties) -> None:
    payload = await raw_create_contract(
        api, parties.client.token, parties.freelancer.id, [milestone_input(None)]
    )

    assert [code for code, _ in refusal(payload)] == ["INVALID_INPUT"]
    assert refusal(payload)[0][1] == ["milestones", "0", "amount"]


async def test_permission_is_checked_before_input(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00")

    payload = await raw_release_milestone(
        api, parties.freelancer.token, milestone_ids(contract)[0], amount="abc"
    )

    assert [code for code, _ in refusal(payload)] == ["NOT_PERMITTED"]


async def test_input_is_checked_before_state(api: Api, parties: Parties) -> None:
    contract = await active(api, parties, "100.00")

    payload = await raw_release_milestone(
        api, parties.client.token, milestone_ids(contract)[0], amount="-5"
    )

    assert refusal(payload) == [("INVALID_AMOUNT", ["amount"])]
