"""Money through escrow: funding, submission, release (all, part, more), bonuses and fees.

Fees at the defaults: initiation 4.95 with the first funding, processing 3% of every charge
and bonus, service 10% of every release and bonus.
"""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import ANY

from tests.api.client import Api
from tests.api.operations import (
    Payload,
    accept_contract,
    create_contract,
    end_contract,
    escrow,
    events,
    fund_milestone,
    ledger,
    ledger_of,
    milestone_input,
    pay_bonus,
    raw_fund_milestone,
    raw_release_milestone,
    read_milestone,
    refusal,
    release_milestone,
    request_revision,
    statuses,
    submit_milestone,
)
from tests.api.people import Parties
from tests.api.scenarios import active, funded, milestone_ids, offered, reread, submitted
from tests.support import FrozenClock


async def raw_fund(api: Api, parties: Parties, milestone_id: str) -> Payload:
    return await raw_fund_milestone(api, parties.client.token, milestone_id)


def _escrow(held: str, available: str, funded: str, released: str, refunded: str) -> dict[str, str]:
    return {
        "held": held,
        "available": available,
        "totalFunded": funded,
        "totalReleased": released,
        "totalRefunded": refunded,
    }


async def test_offer_accept_fund_submit_release_pays_the_freelancer(
    api: Api, parties: Parties
) -> None:
    # given an offer of one 100.00 milestone
    contract = await offered(api, parties, "100.00")
    assert contract["status"] == "OFFERED"
    assert escrow(contract) == _escrow("0.00", "0.00", "0.00", "0.00", "0.00")
    (milestone,) = milestone_ids(contract)

    # when the freelancer accepts
    accepted = (await accept_contract(api, parties.freelancer.token, contract["id"]))["contract"]
    assert accepted["status"] == "ACTIVE"
    assert accepted["acceptedAt"] == "2026-03-01T12:00:00+00:00"

    # and the client funds
    funding = await fund_milestone(api, parties.client.token, milestone)
    assert funding["milestone"]["status"] == "FUNDED"
    assert funding["milestone"]["fundedAmount"] == {"amount": "100.00", "currency": "USD"}
    assert funding["contract"]["activeMilestone"] == {"id": milestone}
    assert escrow(funding["contract"]) == _escrow("100.00", "0.00", "100.00", "0.00", "0.00")

    # and the freelancer submits
    submission = await submit_milestone(
        api, parties.freelancer.token, milestone, attachments=["https://example.com/site.zip"]
    )
    assert submission["milestone"]["status"] == "SUBMITTED"
    assert submission["milestone"]["autoReleaseAt"] == "2026-03-15T12:00:00+00:00"
    (sent,) = submission["milestone"]["submissions"]
    assert sent["requestedAmount"] == {"amount": "100.00", "currency": "USD"}
    assert sent["attachments"] == ["https://example.com/site.zip"]
    assert sent["status"] == "PENDING"

    # and the client releases
    release = await release_milestone(api, parties.client.token, milestone)

    # then
    assert release["milestone"]["status"] == "RELEASED"
    assert release["milestone"]["releasedAmount"]["amount"] == "100.00"
    assert release["milestone"]["autoReleaseAt"] is None
    assert [s["status"] for s in release["milestone"]["submissions"]] == ["RELEASED"]
    assert release["contract"]["status"] == "ACTIVE"
    assert release["contract"]["activeMilestone"] is None
    final = await reread(api, parties, contract)
    assert escrow(final) == _escrow("0.00", "0.00", "100.00", "100.00", "0.00")
    assert ledger(final) == ledger_of(
        ("FUNDING", "100.00"),
        ("PROCESSING_FEE", "3.00"),
        ("INITIATION_FEE", "4.95"),
        ("RELEASE", "100.00"),
        ("SERVICE_FEE", "10.00"),
    )
    assert events(final) == [
        (1, "CONTRACT_OFFERED", None),
        (2, "CONTRACT_ACCEPTED", None),
        (3, "MILESTONE_FUNDED", "100.00"),
        (4, "MILESTONE_SUBMITTED", ANY),
        (5, "MILESTONE_RELEASED", "100.00"),
    ]
    for edge in final["escrow"]["entries"]["edges"]:
        assert edge["node"]["milestone"] == {"id": milestone}
    actors = [edge["node"]["actor"]["id"] for edge in final["events"]["edges"]]
    client, freelancer = parties.client.id, parties.freelancer.id
    assert actors == [client, freelancer, client, freelancer, client]


async def test_a_partial_release_leaves_the_rest_available_for_the_next_funding(
    api: Api, parties: Parties
) -> None:
    # given
    contract = await submitted(api, parties, "100.00", "50.00")
    first, second = milestone_ids(contract)

    # when part is released
    release = await release_milestone(api, parties.client.token, first, amount="60.00")

    # then the rest is available escrow
    assert release["milestone"]["status"] == "RELEASED"
    assert release["milestone"]["fundedAmount"]["amount"] == "100.00"
    assert release["milestone"]["releasedAmount"]["amount"] == "60.00"
    assert escrow(release["contract"]) == _escrow("40.00", "40.00", "100.00", "60.00", "0.00")

    # when the next milestone is funded, the available 40.00 pays towards it
    funding = await fund_milestone(api, parties.client.token, second)

    # then only the difference is charged, with its processing fee
    assert funding["milestone"]["fundedAmount"]["amount"] == "50.00"
    assert escrow(funding["contract"]) == _escrow("50.00", "0.00", "110.00", "60.00", "0.00")
    final = await reread(api, parties, contract)
    assert ledger(final) == ledger_of(
        ("FUNDING", "100.00"),
        ("PROCESSING_FEE", "3.00"),
        ("INITIATION_FEE", "4.95"),
        ("RELEASE", "60.00"),
        ("SERVICE_FEE", "6.00"),
        ("FUNDING", "10.00"),
        ("PROCESSING_FEE", "0.30"),
    )
    assert events(final)[-2:] == [
        (5, "MILESTONE_RELEASED", "60.00"),
        (6, "MILESTONE_FUNDED", "50.00"),
    ]


async def test_available_escrow_that_covers_a_funding_charges_nothing(
    api: Api, parties: Parties
) -> None:
    contract = await funded(api, parties, "100.00", "50.00")
    first, second = milestone_ids(contract)
    await release_milestone(api, parties.client.token, first, amount="40.00")
    before = ledger(await reread(api, parties, contract))

    funding = await fund_milestone(api, parties.client.token, second)

    assert funding["milestone"]["status"] == "FUNDED"
    assert funding["milestone"]["fundedAmount"]["amount"] == "50.00"
    assert escrow(funding["contract"]) == _escrow("60.00", "10.00", "100.00", "40.00", "0.00")
    final = await reread(api, parties, contract)
    assert ledger(final) == before
    assert events(final)[-1] == (5, "MILESTONE_FUNDED", "50.00")


async def test_releasing_more_than_funded_charges_the_difference(
    api: Api, parties: Parties
) -> None:
    contract = await submitted(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)

    release = await release_milestone(api, parties.client.token, milestone, amount="120.00")

    assert release["milestone"]["status"] == "RELEASED"
    assert release["milestone"]["fundedAmount"]["amount"] == "120.00"
    assert release["milestone"]["releasedAmount"]["amount"] == "120.00"
    assert escrow(release["contract"]) == _escrow("0.00", "0.00", "120.00", "120.00", "0.00")
    final = await reread(api, parties, contract)
    assert ledger(final) == ledger_of(
        ("FUNDING", "100.00"),
        ("PROCESSING_FEE", "3.00"),
        ("INITIATION_FEE", "4.95"),
        ("FUNDING", "20.00"),
        ("PROCESSING_FEE", "0.60"),
        ("RELEASE", "120.00"),
        ("SERVICE_FEE", "12.00"),
    )
    assert events(final)[-1] == (5, "MILESTONE_RELEASED", "120.00")


async def test_releasing_more_than_funded_uses_available_escrow_before_charging(
    api: Api, parties: Parties
) -> None:
    # given 70.00 available after a partial release, 20.00 of it left after the next funding
    contract = await funded(api, parties, "100.00", "50.00")
    first, second = milestone_ids(contract)
    await release_milestone(api, parties.client.token, first, amount="30.00")
    await fund_milestone(api, parties.client.token, second)

    # when 80.00 is released from a milestone funded with 50.00
    release = await release_milestone(api, parties.client.token, second, amount="80.00")

    # then 20.00 comes from available escrow and 10.00 is charged
    assert release["milestone"]["fundedAmount"]["amount"] == "80.00"
    assert release["milestone"]["releasedAmount"]["amount"] == "80.00"
    assert escrow(release["contract"]) == _escrow("0.00", "0.00", "110.00", "110.00", "0.00")
    final = await reread(api, parties, contract)
    assert ledger(final) == ledger_of(
        ("FUNDING", "100.00"),
        ("PROCESSING_FEE", "3.00"),
        ("INITIATION_FEE", "4.95"),
        ("RELEASE", "30.00"),
        ("SERVICE_FEE", "3.00"),
        ("FUNDING", "10.00"),
        ("PROCESSING_FEE", "0.30"),
        ("RELEASE", "80.00"),
        ("SERVICE_FEE", "8.00"),
    )


async def test_a_release_defaults_to_the_amount_the_submission_requested(
    api: Api, parties: Parties
) -> None:
    contract = await funded(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)
    await submit_milestone(api, parties.freelancer.token, milestone, requested_amount="80.00")

    release = await release_milestone(api, parties.client.token, milestone)

    assert release["milestone"]["releasedAmount"]["amount"] == "80.00"
    assert escrow(release["contract"]) == _escrow("20.00", "20.00", "100.00", "80.00", "0.00")


async def test_a_release_of_a_funded_milestone_defaults_to_its_whole_escrow(
    api: Api, parties: Parties
) -> None:
    contract = await funded(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)

    release = await release_milestone(api, parties.client.token, milestone)

    assert release["milestone"]["status"] == "RELEASED"
    assert release["milestone"]["releasedAmount"]["amount"] == "100.00"
    assert escrow(release["contract"]) == _escrow("0.00", "0.00", "100.00", "100.00", "0.00")


async def test_a_revision_request_stops_the_clock_and_a_resubmission_restarts_it(
    api: Api, parties: Parties, clock: FrozenClock
) -> None:
    contract = await submitted(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)

    revision = await request_revision(api, parties.client.token, milestone, "More contrast")
    assert revision["milestone"]["status"] == "REVISION_REQUESTED"
    assert revision["milestone"]["autoReleaseAt"] is None
    assert [s["status"] for s in revision["milestone"]["submissions"]] == ["REVISION_REQUESTED"]

    clock.advance(timedelta(days=2))
    again = await submit_milestone(api, parties.freelancer.token, milestone, message="Fixed")
    assert again["milestone"]["status"] == "SUBMITTED"
    assert again["milestone"]["autoReleaseAt"] == "2026-03-17T12:00:00+00:00"
    assert [s["status"] for s in again["milestone"]["submissions"]] == [
        "REVISION_REQUESTED",
        "PENDING",
    ]

    release = await release_milestone(api, parties.client.token, milestone)
    assert [s["status"] for s in release["milestone"]["submissions"]] == [
        "REVISION_REQUESTED",
        "RELEASED",
    ]
    final = await reread(api, parties, contract)
    assert [t for _, t, _ in events(final)][3:] == [
        "MILESTONE_SUBMITTED",
        "MILESTONE_REVISION_REQUESTED",
        "MILESTONE_SUBMITTED",
        "MILESTONE_RELEASED",
    ]


async def test_a_milestone_awaiting_revision_can_be_released(api: Api, parties: Parties) -> None:
    contract = await submitted(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)
    await request_revision(api, parties.client.token, milestone)

    release = await release_milestone(api, parties.client.token, milestone, amount="25.00")

    assert release["milestone"]["status"] == "RELEASED"
    assert release["milestone"]["releasedAmount"]["amount"] == "25.00"


async def test_release_with_end_contract_ends_the_contract_in_the_same_step(
    api: Api, parties: Parties
) -> None:
    contract = await submitted(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)

    release = await release_milestone(
        api, parties.client.token, milestone, amount="60.00", end_contract=True
    )

    assert release["milestone"]["status"] == "RELEASED"
    assert release["contract"]["status"] == "ENDED"
    assert release["contract"]["endedAt"] == "2026-03-01T12:00:00+00:00"
    assert escrow(release["contract"]) == _escrow("0.00", "0.00", "100.00", "60.00", "40.00")
    final = await reread(api, parties, contract)
    assert ledger(final) == ledger_of(
        ("FUNDING", "100.00"),
        ("PROCESSING_FEE", "3.00"),
        ("INITIATION_FEE", "4.95"),
        ("RELEASE", "60.00"),
        ("SERVICE_FEE", "6.00"),
        ("REFUND", "40.00"),
    )
    assert [(s, t) for s, t, _ in events(final)][-2:] == [
        (5, "MILESTONE_RELEASED"),
        (6, "CONTRACT_ENDED"),
    ]


async def test_release_with_end_contract_is_refused_while_milestones_remain_unfunded(
    api: Api, parties: Parties
) -> None:
    contract = await submitted(api, parties, "100.00", "50.00")
    first, _ = milestone_ids(contract)
    before = await reread(api, parties, contract)

    payload = await raw_release_milestone(api, parties.client.token, first, end_contract=True)

    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_STATE"]
    assert await reread(api, parties, contract) == before


async def test_a_bonus_bypasses_escrow_and_carries_both_fees(api: Api, parties: Parties) -> None:
    contract = await active(api, parties, "100.00")

    payload = await pay_bonus(api, parties.client.token, contract["id"], "20.00", note="Thanks")

    assert payload["contract"]["status"] == "ACTIVE"
    assert escrow(payload["contract"]) == _escrow("0.00", "0.00", "0.00", "0.00", "0.00")
    final = await reread(api, parties, contract)
    assert ledger(final) == ledger_of(
        ("BONUS", "20.00"), ("PROCESSING_FEE", "0.60"), ("SERVICE_FEE", "2.00")
    )
    assert events(final)[-1] == (3, "BONUS_PAID", "20.00")
    assert final["events"]["edges"][-1]["node"]["message"] == "Thanks"


async def test_fees_round_half_up_to_the_cent(api: Api, parties: Parties) -> None:
    contract = await active(api, parties, "100.00")

    await pay_bonus(api, parties.client.token, contract["id"], "0.50")

    final = await reread(api, parties, contract)
    assert ledger(final) == ledger_of(
        ("BONUS", "0.50"), ("PROCESSING_FEE", "0.02"), ("SERVICE_FEE", "0.05")
    )


async def test_releases_and_bonuses_have_no_minimum(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)

    release = await release_milestone(api, parties.client.token, milestone, amount="0.01")
    bonus = await pay_bonus(api, parties.client.token, contract["id"], "1.00")

    assert release["milestone"]["releasedAmount"]["amount"] == "0.01"
    assert ("BONUS", "1.00") in ledger(await reread(api, parties, contract))
    assert bonus["contract"]["id"] == contract["id"]


async def test_money_is_in_the_contracts_currency(api: Api, parties: Parties) -> None:
    contract = await offered(api, parties, "100.00", currency="EUR")
    (milestone,) = milestone_ids(contract)
    await accept_contract(api, parties.freelancer.token, contract["id"])

    funding = await fund_milestone(api, parties.client.token, milestone)

    assert funding["contract"]["currency"] == "EUR"
    assert funding["milestone"]["fundedAmount"] == {"amount": "100.00", "currency": "EUR"}
    final = await reread(api, parties, contract)
    currencies = {
        edge["node"]["amount"]["currency"] for edge in final["escrow"]["entries"]["edges"]
    }
    assert currencies == {"EUR"}
    assert {money["currency"] for money in final["escrow"].values() if "currency" in money} == {
        "EUR"
    }


async def test_every_money_output_has_two_decimal_digits(api: Api, parties: Parties) -> None:
    payload = await create_contract(
        api,
        parties.client.token,
        parties.freelancer.id,
        [milestone_input("25"), milestone_input("7.5")],
    )
    contract = payload["contract"]
    first, _ = milestone_ids(contract)
    await accept_contract(api, parties.freelancer.token, contract["id"])
    await fund_milestone(api, parties.client.token, first)
    await release_milestone(api, parties.client.token, first, amount="12.5")

    final = await reread(api, parties, contract)
    milestone = await read_milestone(api, parties.client.token, first)

    assert [m["amount"]["amount"] for m in final["milestones"]] == ["25.00", "7.50"]
    assert final["milestones"][1]["fundedAmount"]["amount"] == "0.00"
    assert final["milestones"][1]["releasedAmount"]["amount"] == "0.00"
    assert final["milestones"][1]["refundedAmount"]["amount"] == "0.00"
    assert milestone is not None
    assert milestone["releasedAmount"]["amount"] == "12.50"
    assert escrow(final) == _escrow("12.50", "12.50", "25.00", "12.50", "0.00")
    assert ("PROCESSING_FEE", "0.75") in ledger(final)
    assert ("SERVICE_FEE", "1.25") in ledger(final)
    for _, amount in ledger(final):
        assert amount.count(".") == 1
        assert len(amount.split(".")[1]) == 2


async def test_funding_a_milestone_while_another_is_active_is_refused(
    api: Api, parties: Parties
) -> None:
    contract = await funded(api, parties, "100.00", "50.00", "20.00")
    _, second, third = milestone_ids(contract)

    next_one = await raw_fund(api, parties, second)
    out_of_order_too = await raw_fund(api, parties, third)

    assert refusal(next_one) == [("ANOTHER_MILESTONE_ACTIVE", ["milestoneId"])]
    assert refusal(out_of_order_too) == [("ANOTHER_MILESTONE_ACTIVE", ["milestoneId"])]


async def test_funding_out_of_order_is_refused(api: Api, parties: Parties) -> None:
    contract = await active(api, parties, "100.00", "50.00")
    _, second = milestone_ids(contract)
    before = await reread(api, parties, contract)

    payload = await raw_fund(api, parties, second)

    assert refusal(payload) == [("MILESTONE_OUT_OF_ORDER", ["milestoneId"])]
    assert payload["milestone"] is None
    assert await reread(api, parties, contract) == before


async def test_after_a_release_the_next_milestone_may_be_funded(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00", "50.00")
    first, second = milestone_ids(contract)
    await release_milestone(api, parties.client.token, first)

    funding = await fund_milestone(api, parties.client.token, second)

    assert statuses(funding["contract"]) == ["RELEASED", "FUNDED"]
    assert funding["contract"]["activeMilestone"] == {"id": second}


async def test_a_contract_with_all_milestones_released_stays_active_until_ended(
    api: Api, parties: Parties
) -> None:
    contract = await funded(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)
    await release_milestone(api, parties.client.token, milestone)

    payload = await end_contract(api, parties.client.token, contract["id"])

    assert payload["contract"]["status"] == "ENDED"
    final = await reread(api, parties, contract)
    assert "FEE_REFUND" not in [kind for kind, _ in ledger(final)]
