"""Clients of the fault tests: GraphQL over HTTP that sends a request again, unchanged, for as
long as it gets no answer (the server killed or restarting, the database gone), and the
fund/submit/release cycle they run with idempotency keys."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.e2e.servers import ACCEPT_CONTRACT, CREATE_CONTRACT, VIEWER

# A request that takes longer than this is a hang: the test fails on it.
REQUEST_TIMEOUT = 5.0
PATIENCE = 30.0  # how long a client keeps retrying one request
RETRYABLE = {"SERVICE_UNAVAILABLE"}

FUND = """
mutation($input: FundMilestoneInput!) {
  fundMilestone(input: $input) { milestone { status } userErrors { code message } }
}
"""
SUBMIT = """
mutation($input: SubmitMilestoneInput!) {
  submitMilestone(input: $input) { milestone { status } userErrors { code message } }
}
"""
RELEASE = """
mutation($input: ReleaseMilestoneInput!) {
  releaseMilestone(input: $input) { milestone { status } userErrors { code message } }
}
"""
PAY_BONUS = """
mutation($input: PayBonusInput!) {
  payBonus(input: $input) { contract { id } userErrors { code message } }
}
"""
STATUS = "query($id: ID!) { milestone(id: $id) { status } }"


@dataclass
class Retrying:
    """Sends each request until it is answered; counts what had to be sent again, by key."""

    base_url: str
    resent: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)  # "200", "SERVICE_UNAVAILABLE", …

    async def send(
        self, query: str, variables: dict[str, Any], token: str | None, key: str = ""
    ) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + PATIENCE
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = {"query": query, "variables": variables}
        async with httpx.AsyncClient(base_url=self.base_url, timeout=REQUEST_TIMEOUT) as http:
            while True:
                try:
                    response = await http.post("/graphql", json=body, headers=headers)
                except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError):
                    self.answers["no answer"] += 1
                else:
                    assert response.status_code == 200, (response.status_code, response.text)
                    answer: dict[str, Any] = response.json()
                    codes = [e.get("extensions", {}).get("code") for e in answer.get("errors", [])]
                    self.answers[codes[0] if codes else "200"] += 1
                    if not set(codes) & RETRYABLE:
                        assert not codes, answer
                        data: dict[str, Any] = answer["data"]
                        return data
                assert asyncio.get_running_loop().time() < deadline, f"no answer for {key}"
                self.resent[key] += 1
                await asyncio.sleep(0.2)

    async def mutate(self, query: str, token: str, key: str = "", **fields: Any) -> dict[str, Any]:
        data = await self.send(query, {"input": fields}, token, key)
        payload: dict[str, Any] = next(iter(data.values()))
        return payload


async def until(
    condition: Callable[[], bool], workers: list[asyncio.Task[None]], within: float = PATIENCE
) -> None:
    """Wait for `condition`, failing at once if a worker failed, or after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        for worker in workers:
            if worker.done():
                worker.result()  # raises the worker's failure
        assert asyncio.get_running_loop().time() < deadline, "the workers made no progress"
        await asyncio.sleep(0.05)


def ok(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


async def new_contract(
    api: Retrying, client: str, freelancer: str, amounts: list[str]
) -> list[str]:
    """An accepted contract; its milestone ids."""
    freelancer_id = (await api.send(VIEWER, {}, freelancer))["viewer"]["id"]
    milestones = [{"title": f"M{i}", "amount": a} for i, a in enumerate(amounts, 1)]
    created = ok(
        await api.mutate(
            CREATE_CONTRACT,
            client,
            freelancerId=freelancer_id,
            title="Faults",
            milestones=milestones,
        )
    )
    contract = created["contract"]
    ok(await api.mutate(ACCEPT_CONTRACT, freelancer, contractId=contract["id"]))
    return [m["id"] for m in contract["milestones"]]


async def cycle(api: Retrying, client: str, freelancer: str, milestone_id: str, tag: str) -> None:
    """Fund, submit and release one milestone; the money-moving steps carry idempotency keys,
    so a retry of one whose answer was lost replays it. Submitting has no key: a retry after a
    lost answer finds the work already submitted, which is what was asked."""
    fund_key, release_key = f"{tag}-fund", f"{tag}-release"
    funded = ok(
        await api.mutate(FUND, client, fund_key, milestoneId=milestone_id, idempotencyKey=fund_key)
    )
    assert funded["milestone"]["status"] == "FUNDED"
    submitted = await api.mutate(SUBMIT, freelancer, f"{tag}-submit", milestoneId=milestone_id)
    if submitted["userErrors"]:
        assert api.resent[f"{tag}-submit"], submitted
        status = await api.send(STATUS, {"id": milestone_id}, freelancer)
        assert status["milestone"]["status"] == "SUBMITTED", (submitted, status)
    released = ok(
        await api.mutate(
            RELEASE, client, release_key, milestoneId=milestone_id, idempotencyKey=release_key
        )
    )
    assert released["milestone"]["status"] == "RELEASED"
