"""`python -m app run-jobs` apart from the servers, on PostgreSQL: a deadline it applies is
announced to the subscribers of every `serve` process, as a mutation on a server would be; and
run-jobs processes running at once send each reminder once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.postgres import SHARED_SERVER, fresh_database, prepare, server_env, tokens
from tests.e2e.servers import (
    FUND_MILESTONE,
    Server,
    active_contract,
    contract_events,
    http,
    run_cli,
    running,
    start_server,
)

pytestmark = [pytest.mark.e2e, pytest.mark.own_database("postgres")]

WINDOW = 2.0
REQUEST_REFUND = """
mutation($input: RequestRefundInput!) {
  requestRefund(input: $input) { refundRequest { status } userErrors { code message } }
}
"""
REMINDERS = """
{ viewer { notifications(first: 20) { edges { node { type title milestone { id } } } } } }
"""
SUBMIT = """
mutation($input: SubmitMilestoneInput!) {
  submitMilestone(input: $input) { milestone { status } userErrors { code message } }
}
"""


@dataclass(frozen=True)
class Setup:
    server: Server
    workdir: Path
    env: dict[str, str]
    client: str
    freelancer: str


@pytest.fixture(scope="module")
async def setup(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Setup]:
    async with fresh_database(SHARED_SERVER, "jobs") as (url, _):
        workdir = tmp_path_factory.mktemp("e2e-jobs")
        # The server's own scheduler runs once at start, then not for an hour: only the
        # separate run-jobs process can apply the deadline.
        env = server_env(workdir, url, AUTO_RELEASE_AFTER=f"{WINDOW:.0f}s", JOBS_INTERVAL="1h")
        await prepare(workdir, env)
        with running(start_server(workdir, env)) as (server,):
            client, freelancer = await tokens(server)
            yield Setup(server, workdir, env, client, freelancer)


async def test_a_deadline_applied_by_run_jobs_reaches_a_subscriber_on_a_server(
    setup: Setup,
) -> None:
    # given work submitted on the server (events 1 to 4), and a subscriber there
    async with http(setup.server) as api:
        contract = await active_contract(api, setup.client, setup.freelancer)
        first = contract.milestone_ids[0]
        await api.mutate(FUND_MILESTONE, setup.client, milestoneId=first)
        await api.mutate(SUBMIT, setup.freelancer, milestoneId=first, message="done")
    async with contract_events(setup.server, setup.client, contract.id, 4) as subscription:
        await asyncio.sleep(WINDOW + 0.5)  # until the deadline has passed: time, not an event
        # when a separate run-jobs process applies the deadline (so the server had not)
        output = await asyncio.to_thread(run_cli, setup.workdir, setup.env, "run-jobs", "--once")
        assert "Deadlines applied on 1 contract(s)." in output
        # then the subscriber on the server receives the release, and nothing before it
        [event] = await subscription.events(1)
        assert event == {
            "sequence": 5,
            "type": "MILESTONE_RELEASED",
            "amount": {"amount": "100.00"},
        }


async def test_run_jobs_processes_at_once_remind_of_a_refund_request_once(setup: Setup) -> None:
    # given a refund request on a funded milestone, answered within 7 days (the default)
    async with http(setup.server) as api:
        contract = await active_contract(api, setup.client, setup.freelancer)
        first = contract.milestone_ids[0]
        await api.mutate(FUND_MILESTONE, setup.client, milestoneId=first)
        await api.mutate(REQUEST_REFUND, setup.client, milestoneId=first, amount="10.00")
    # when three run-jobs processes that remind 8 days ahead (so at once) run together
    reminding = {**setup.env, "REMINDER_BEFORE_REFUND_RESPONSE": "8d"}
    outputs = await asyncio.gather(
        *(
            asyncio.to_thread(run_cli, setup.workdir, reminding, "run-jobs", "--once")
            for _ in range(3)
        )
    )
    # then one of them sent the reminder, and the freelancer has it once
    assert sorted("Reminders sent: 1." in output for output in outputs) == [False, False, True]
    async with http(setup.server) as api:
        data = await api.ok(REMINDERS, token=setup.freelancer)
    reminders = [
        edge["node"]
        for edge in data["viewer"]["notifications"]["edges"]
        if edge["node"]["type"] == "REFUND_RESPONSE_REMINDER"
    ]
    assert [node["milestone"]["id"] for node in reminders] == [first]
