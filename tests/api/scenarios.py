"""Contracts brought to a given point through the API, for the tests to start from."""

from __future__ import annotations

from decimal import Decimal

from tests.api.client import Api
from tests.api.operations import (
    Payload,
    accept_contract,
    create_contract,
    escrow,
    fund_milestone,
    milestone_input,
    read_contract,
    submit_milestone,
)
from tests.api.people import Parties

AMOUNTS = ("100.00", "50.00")


def milestone_ids(contract: Payload) -> list[str]:
    return [milestone["id"] for milestone in contract["milestones"]]


async def offered(
    api: Api, parties: Parties, *amounts: str, currency: str | None = None
) -> Payload:
    """An open offer from the client to the freelancer, one milestone per amount."""
    milestones = [
        milestone_input(amount, title=f"Milestone {i}")
        for i, amount in enumerate(amounts or AMOUNTS, start=1)
    ]
    payload = await create_contract(
        api, parties.client.token, parties.freelancer.id, milestones, currency=currency
    )
    contract: Payload = payload["contract"]
    return contract


async def active(api: Api, parties: Parties, *amounts: str) -> Payload:
    contract = await offered(api, parties, *amounts)
    payload = await accept_contract(api, parties.freelancer.token, contract["id"])
    accepted: Payload = payload["contract"]
    return accepted


async def funded(api: Api, parties: Parties, *amounts: str) -> Payload:
    """An active contract whose first milestone is funded."""
    contract = await active(api, parties, *amounts)
    payload = await fund_milestone(api, parties.client.token, milestone_ids(contract)[0])
    result: Payload = payload["contract"]
    return result


async def submitted(api: Api, parties: Parties, *amounts: str) -> Payload:
    """An active contract whose first milestone is funded and submitted."""
    contract = await funded(api, parties, *amounts)
    payload = await submit_milestone(api, parties.freelancer.token, milestone_ids(contract)[0])
    result: Payload = payload["contract"]
    return result


async def reread(api: Api, parties: Parties, contract: Payload) -> Payload:
    """The contract as the client now reads it, with its ledger entries and events.

    Every read checks §6.1: totalFunded = totalReleased + totalRefunded + held, and
    available is part of held.
    """
    fresh = await read_contract(api, parties.client.token, contract["id"])
    assert fresh is not None
    money = {name: Decimal(amount) for name, amount in escrow(fresh).items()}
    assert money["totalFunded"] == (
        money["totalReleased"] + money["totalRefunded"] + money["held"]
    ), money
    assert 0 <= money["available"] <= money["held"], money
    return fresh
