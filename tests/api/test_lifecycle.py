"""The life of a contract: offer, acceptance, decline, withdrawal and end, and what each state
allows (§6.8 to §6.10, §6.16, §6.30)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.api.client import Api
from tests.api.operations import (
    Payload,
    accept_contract,
    codes,
    decline_contract,
    end_contract,
    escrow,
    events,
    fund_milestone,
    ledger,
    ledger_of,
    pay_bonus,
    raw_accept_contract,
    raw_decline_contract,
    raw_end_contract,
    raw_fund_milestone,
    raw_pay_bonus,
    raw_release_milestone,
    raw_request_revision,
    raw_submit_milestone,
    release_milestone,
    request_revision,
    statuses,
)
from tests.api.people import Parties
from tests.api.scenarios import active, funded, milestone_ids, offered, reread, submitted

NOTHING_MOVED = {
    "held": "0.00",
    "available": "0.00",
    "totalFunded": "0.00",
    "totalReleased": "0.00",
    "totalRefunded": "0.00",
}
FULL_REFUND = {**NOTHING_MOVED, "totalFunded": "100.00", "totalRefunded": "100.00"}


async def test_a_new_offer_is_offered_with_its_milestones_in_order(
    api: Api, parties: Parties
) -> None:
    contract = await offered(api, parties, "100.00", "50.00", "25.00")

    assert contract["status"] == "OFFERED"
    assert contract["currency"] == "USD"
    assert contract["client"] == {"id": parties.client.id}
    assert contract["freelancer"] == {"id": parties.freelancer.id}
    assert contract["createdAt"] == "2026-03-01T12:00:00+00:00"
    assert contract["acceptedAt"] is None
    assert contract["endedAt"] is None
    assert contract["activeMilestone"] is None
    assert [m["position"] for m in contract["milestones"]] == [1, 2, 3]
    assert [m["amount"]["amount"] for m in contract["milestones"]] == ["100.00", "50.00", "25.00"]
    assert statuses(contract) == ["NOT_FUNDED"] * 3
    assert escrow(contract) == NOTHING_MOVED
    assert events(await reread(api, parties, contract)) == [(1, "CONTRACT_OFFERED", None)]


async def test_a_declined_offer_refunds_everything_fees_included(
    api: Api, parties: Parties
) -> None:
    # given an offer whose first milestone the client funded
    contract = await offered(api, parties, "100.00", "50.00")
    first, _ = milestone_ids(contract)
    await fund_milestone(api, parties.client.token, first)

    # when
    payload = await decline_contract(api, parties.freelancer.token, contract["id"], "Too busy")

    # then
    declined = payload["contract"]
    assert declined["status"] == "DECLINED"
    assert declined["endedAt"] == "2026-03-01T12:00:00+00:00"
    assert statuses(declined) == ["REFUNDED", "CANCELLED"]
    assert declined["milestones"][0]["refundedAmount"]["amount"] == "100.00"
    assert escrow(declined) == FULL_REFUND
    final = await reread(api, parties, contract)
    assert ledger(final) == ledger_of(
        ("FUNDING", "100.00"),
        ("PROCESSING_FEE", "3.00"),
        ("INITIATION_FEE", "4.95"),
        ("REFUND", "100.00"),
        ("FEE_REFUND", "3.00"),
        ("FEE_REFUND", "4.95"),
    )
    assert [(s, t) for s, t, _ in events(final)] == [
        (1, "CONTRACT_OFFERED"),
        (2, "MILESTONE_FUNDED"),
        (3, "MILESTONE_REFUNDED"),
        (4, "CONTRACT_DECLINED"),
    ]
    assert events(final)[2] == (3, "MILESTONE_REFUNDED", "100.00")


async def test_a_withdrawn_offer_refunds_everything_fees_included(
    api: Api, parties: Parties
) -> None:
    contract = await offered(api, parties, "100.00", "50.00")
    first, _ = milestone_ids(contract)
    await fund_milestone(api, parties.client.token, first)

    payload = await end_contract(api, parties.client.token, contract["id"], "Changed my mind")

    withdrawn = payload["contract"]
    assert withdrawn["status"] == "ENDED"
    assert statuses(withdrawn) == ["REFUNDED", "CANCELLED"]
    assert escrow(withdrawn) == FULL_REFUND
    final = await reread(api, parties, contract)
    assert ledger(final) == ledger_of(
        ("FUNDING", "100.00"),
        ("PROCESSING_FEE", "3.00"),
        ("INITIATION_FEE", "4.95"),
        ("REFUND", "100.00"),
        ("FEE_REFUND", "3.00"),
        ("FEE_REFUND", "4.95"),
    )
    assert [t for _, t, _ in events(final)] == [
        "CONTRACT_OFFERED",
        "MILESTONE_FUNDED",
        "MILESTONE_REFUNDED",
        "CONTRACT_ENDED",
    ]


async def test_an_unfunded_offer_declined_cancels_every_milestone_and_moves_no_money(
    api: Api, parties: Parties
) -> None:
    contract = await offered(api, parties, "100.00", "50.00")

    payload = await decline_contract(api, parties.freelancer.token, contract["id"])

    assert statuses(payload["contract"]) == ["CANCELLED", "CANCELLED"]
    final = await reread(api, parties, contract)
    assert ledger(final) == []
    assert [t for _, t, _ in events(final)] == ["CONTRACT_OFFERED", "CONTRACT_DECLINED"]


async def test_the_freelancer_ending_gives_all_escrow_back_and_the_initiation_fee(
    api: Api, parties: Parties
) -> None:
    contract = await funded(api, parties, "100.00", "50.00")

    payload = await end_contract(api, parties.freelancer.token, contract["id"], "Cannot finish")

    ended = payload["contract"]
    assert ended["status"] == "ENDED"
    assert ended["activeMilestone"] is None
    assert statuses(ended) == ["REFUNDED", "CANCELLED"]
    assert escrow(ended) == FULL_REFUND
    final = await reread(api, parties, contract)
    assert ledger(final) == ledger_of(
        ("FUNDING", "100.00"),
        ("PROCESSING_FEE", "3.00"),
        ("INITIATION_FEE", "4.95"),
        ("REFUND", "100.00"),
        ("FEE_REFUND", "4.95"),
    )
    assert [(s, t) for s, t, _ in events(final)][-2:] == [
        (4, "MILESTONE_REFUNDED"),
        (5, "CONTRACT_ENDED"),
    ]


async def test_a_bonus_is_not_a_release_for_the_initiation_fee_refund(
    api: Api, parties: Parties
) -> None:
    contract = await funded(api, parties, "100.00")
    await pay_bonus(api, parties.client.token, contract["id"], "10.00")

    await end_contract(api, parties.freelancer.token, contract["id"])

    assert ("FEE_REFUND", "4.95") in ledger(await reread(api, parties, contract))


async def test_the_client_ending_with_a_funded_milestone_is_refused(
    api: Api, parties: Parties
) -> None:
    contract = await funded(api, parties, "100.00")
    before = await reread(api, parties, contract)

    payload = await raw_end_contract(api, parties.client.token, contract["id"])

    assert codes(payload) == ["ACTIVE_MILESTONE_FUNDED"]
    assert payload["contract"] is None
    assert await reread(api, parties, contract) == before


async def test_the_client_ending_with_a_milestone_awaiting_revision_is_refused(
    api: Api, parties: Parties
) -> None:
    contract = await submitted(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)
    await request_revision(api, parties.client.token, milestone)

    payload = await raw_end_contract(api, parties.client.token, contract["id"])

    assert codes(payload) == ["ACTIVE_MILESTONE_FUNDED"]


async def test_the_client_ending_gives_back_available_escrow_and_cancels_the_rest(
    api: Api, parties: Parties
) -> None:
    contract = await funded(api, parties, "100.00", "50.00")
    first, _ = milestone_ids(contract)
    await release_milestone(api, parties.client.token, first, amount="60.00")

    payload = await end_contract(api, parties.client.token, contract["id"])

    ended = payload["contract"]
    assert ended["status"] == "ENDED"
    assert statuses(ended) == ["RELEASED", "CANCELLED"]
    assert escrow(ended) == {
        "held": "0.00",
        "available": "0.00",
        "totalFunded": "100.00",
        "totalReleased": "60.00",
        "totalRefunded": "40.00",
    }
    final = await reread(api, parties, contract)
    assert ledger(final) == ledger_of(
        ("FUNDING", "100.00"),
        ("PROCESSING_FEE", "3.00"),
        ("INITIATION_FEE", "4.95"),
        ("RELEASE", "60.00"),
        ("SERVICE_FEE", "6.00"),
        ("REFUND", "40.00"),
    )
    assert events(final)[-1][1] == "CONTRACT_ENDED"


async def test_ending_with_nothing_funded_cancels_every_milestone(
    api: Api, parties: Parties
) -> None:
    contract = await active(api, parties, "100.00", "50.00")

    payload = await end_contract(api, parties.client.token, contract["id"])

    assert payload["contract"]["status"] == "ENDED"
    assert statuses(payload["contract"]) == ["CANCELLED", "CANCELLED"]
    assert ledger(await reread(api, parties, contract)) == []


@pytest.mark.parametrize("who", ["client", "freelancer"])
async def test_ending_with_a_submitted_milestone_is_invalid_for_either_party(
    api: Api, parties: Parties, who: str
) -> None:
    contract = await submitted(api, parties, "100.00")
    before = await reread(api, parties, contract)

    payload = await raw_end_contract(api, getattr(parties, who).token, contract["id"])

    assert codes(payload) == ["INVALID_STATE"]
    assert await reread(api, parties, contract) == before


async def test_a_contract_ended_cannot_be_ended_again(api: Api, parties: Parties) -> None:
    contract = await active(api, parties, "100.00")
    await end_contract(api, parties.client.token, contract["id"])

    again = await raw_end_contract(api, parties.client.token, contract["id"])
    by_freelancer = await raw_end_contract(api, parties.freelancer.token, contract["id"])

    assert codes(again) == ["INVALID_STATE"]
    assert codes(by_freelancer) == ["INVALID_STATE"]


async def test_an_accepted_offer_cannot_be_accepted_or_declined_again(
    api: Api, parties: Parties
) -> None:
    contract = await active(api, parties, "100.00")

    accepted = await raw_accept_contract(api, parties.freelancer.token, contract["id"])
    declined = await raw_decline_contract(api, parties.freelancer.token, contract["id"])

    assert codes(accepted) == ["INVALID_STATE"]
    assert codes(declined) == ["INVALID_STATE"]


async def test_a_declined_offer_allows_nothing_more(api: Api, parties: Parties) -> None:
    contract = await offered(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)
    await decline_contract(api, parties.freelancer.token, contract["id"])
    client = parties.client.token

    assert codes(await raw_accept_contract(api, parties.freelancer.token, contract["id"])) == [
        "INVALID_STATE"
    ]
    assert codes(await raw_fund_milestone(api, client, milestone)) == ["INVALID_STATE"]
    assert codes(await raw_end_contract(api, client, contract["id"])) == ["INVALID_STATE"]
    assert codes(await raw_pay_bonus(api, client, contract["id"], "5.00")) == ["INVALID_STATE"]


Step = Callable[[Api, Parties, Payload], Awaitable[Payload]]


async def _fund_first(api: Api, parties: Parties, contract: Payload) -> Payload:
    return await raw_fund_milestone(api, parties.client.token, milestone_ids(contract)[0])


async def _fund_second(api: Api, parties: Parties, contract: Payload) -> Payload:
    return await raw_fund_milestone(api, parties.client.token, milestone_ids(contract)[1])


async def _submit(api: Api, parties: Parties, contract: Payload) -> Payload:
    return await raw_submit_milestone(api, parties.freelancer.token, milestone_ids(contract)[0])


async def _release(api: Api, parties: Parties, contract: Payload) -> Payload:
    return await raw_release_milestone(api, parties.client.token, milestone_ids(contract)[0])


async def _revision(api: Api, parties: Parties, contract: Payload) -> Payload:
    return await raw_request_revision(api, parties.client.token, milestone_ids(contract)[0])


async def _bonus(api: Api, parties: Parties, contract: Payload) -> Payload:
    return await raw_pay_bonus(api, parties.client.token, contract["id"], "10.00")


async def _accept(api: Api, parties: Parties, contract: Payload) -> Payload:
    return await raw_accept_contract(api, parties.freelancer.token, contract["id"])


async def _decline(api: Api, parties: Parties, contract: Payload) -> Payload:
    return await raw_decline_contract(api, parties.freelancer.token, contract["id"])


async def _withdraw(api: Api, parties: Parties, contract: Payload) -> Payload:
    return await raw_end_contract(api, parties.client.token, contract["id"])


async def _freelancer_ends(api: Api, parties: Parties, contract: Payload) -> Payload:
    return await raw_end_contract(api, parties.freelancer.token, contract["id"])


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        pytest.param(_fund_first, [], id="fund the first milestone"),
        pytest.param(_accept, [], id="accept"),
        pytest.param(_decline, [], id="decline"),
        pytest.param(_withdraw, [], id="client ends (withdraws)"),
        pytest.param(_freelancer_ends, ["NOT_PERMITTED"], id="freelancer ends"),
        pytest.param(_fund_second, ["INVALID_STATE"], id="fund the second milestone"),
        pytest.param(_submit, ["INVALID_STATE"], id="submit"),
        pytest.param(_release, ["INVALID_STATE"], id="release"),
        pytest.param(_revision, ["INVALID_STATE"], id="request a revision"),
        pytest.param(_bonus, ["INVALID_STATE"], id="pay a bonus"),
    ],
)
async def test_what_an_open_offer_allows(
    api: Api, parties: Parties, step: Step, expected: list[str]
) -> None:
    contract = await offered(api, parties, "100.00", "50.00")

    payload = await step(api, parties, contract)

    assert codes(payload) == expected


@pytest.mark.parametrize(
    "step",
    [
        pytest.param(_submit, id="submit"),
        pytest.param(_release, id="release"),
        pytest.param(_revision, id="request a revision"),
        pytest.param(_bonus, id="pay a bonus"),
    ],
)
async def test_an_open_offer_refuses_work_on_a_funded_milestone(
    api: Api, parties: Parties, step: Step
) -> None:
    contract = await offered(api, parties, "100.00", "50.00")
    await fund_milestone(api, parties.client.token, milestone_ids(contract)[0])
    before = await reread(api, parties, contract)

    payload = await step(api, parties, contract)

    assert codes(payload) == ["INVALID_STATE"]
    assert await reread(api, parties, contract) == before


async def test_an_offer_funded_then_accepted_keeps_its_escrow(api: Api, parties: Parties) -> None:
    contract = await offered(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)
    await fund_milestone(api, parties.client.token, milestone)

    payload = await accept_contract(api, parties.freelancer.token, contract["id"])

    assert payload["contract"]["status"] == "ACTIVE"
    assert statuses(payload["contract"]) == ["FUNDED"]
    assert escrow(payload["contract"])["held"] == "100.00"


@pytest.mark.parametrize(
    ("state", "step"),
    [
        pytest.param(active, _release, id="release a milestone not funded"),
        pytest.param(active, _submit, id="submit a milestone not funded"),
        pytest.param(active, _revision, id="request a revision of a milestone not funded"),
        pytest.param(funded, _fund_first, id="fund a funded milestone"),
        pytest.param(funded, _revision, id="request a revision before a submission"),
        pytest.param(submitted, _submit, id="submit a submitted milestone"),
    ],
)
async def test_refusals_of_the_milestone_state_machine(
    api: Api,
    parties: Parties,
    state: Callable[..., Awaitable[Payload]],
    step: Step,
) -> None:
    contract = await state(api, parties, "100.00", "50.00")
    before = await reread(api, parties, contract)

    payload = await step(api, parties, contract)

    assert codes(payload) == ["INVALID_STATE"]
    assert payload["milestone"] is None
    assert await reread(api, parties, contract) == before


async def test_a_released_milestone_accepts_nothing_more(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00", "50.00")
    await release_milestone(api, parties.client.token, milestone_ids(contract)[0])

    assert codes(await _release(api, parties, contract)) == ["INVALID_STATE"]
    assert codes(await _submit(api, parties, contract)) == ["INVALID_STATE"]
    assert codes(await _fund_first(api, parties, contract)) == ["INVALID_STATE"]


async def test_an_ended_contract_accepts_no_milestone_action(api: Api, parties: Parties) -> None:
    contract = await active(api, parties, "100.00", "50.00")
    await end_contract(api, parties.freelancer.token, contract["id"])

    for step in (_fund_first, _submit, _release, _revision, _bonus):
        assert codes(await step(api, parties, contract)) == ["INVALID_STATE"], step.__name__
