"""Deadlines in a real server process, with a 2-second review window.

The scheduler inside `serve` releases submitted work on its own; a deadline that passed while
no server ran fires when the next one starts. Only reads are sent while waiting, so nothing but
the scheduler can have applied the deadline.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import _free_port, _seed, _server_env, _stop, _wait_healthy

pytestmark = [pytest.mark.e2e, pytest.mark.own_database("sqlite")]

WINDOW = 2.0


@dataclass(frozen=True)
class Server:
    base_url: str
    client: str
    freelancer: str

    def graphql(self, token: str, query: str, **variables: Any) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.base_url}/graphql",
            data=json.dumps({"query": query, "variables": variables}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body: dict[str, Any] = json.load(response)
        assert not body.get("errors"), body
        data: dict[str, Any] = body["data"]
        for payload in data.values():
            if isinstance(payload, dict):
                assert not payload.get("userErrors"), payload
        return data


MILESTONES = """
query($status: ContractStatus) { contracts(first: 10, status: $status) { edges { node {
  id title milestones { id status autoReleaseAt releasedAmount { amount } }
  events(first: 20) { edges { node { type actor { name } amount { amount } } } } } } } }
"""
OFFER = """
mutation($freelancer: ID!) { createContract(input: {freelancerId: $freelancer, title: "Quick",
  milestones: [{title: "Only", amount: "40.00"}]}) { contract { id milestones { id } }
  userErrors { code message } } }
"""
FREELANCER_ID = "query { contracts(first: 1) { edges { node { freelancer { id } } } } }"
ACCEPT = """mutation($id: ID!) { acceptContract(input: {contractId: $id}) {
  userErrors { code message } } }"""
FUND = """mutation($id: ID!) { fundMilestone(input: {milestoneId: $id}) {
  userErrors { code message } } }"""
SUBMIT = """mutation($id: ID!) { submitMilestone(input: {milestoneId: $id, message: "done"}) {
  milestone { status autoReleaseAt } userErrors { code message } } }"""
MILESTONE = """query($id: ID!) { milestone(id: $id) { status releasedAmount { amount } } }"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("deadlines")
    env = _server_env(workdir)
    env.update(AUTO_RELEASE_AFTER="2s", JOBS_INTERVAL="1s")
    client, freelancer, _ = _seed(workdir, env)
    # The demo's submitted milestone comes due while no server runs.
    time.sleep(WINDOW + 0.5)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = workdir / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(process, base_url, Path(log))
        yield Server(base_url=base_url, client=client, freelancer=freelancer)
    finally:
        _stop(process)


def wait_for_release(server: Server, milestone_id: str, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        milestone: dict[str, Any] = server.graphql(server.client, MILESTONE, id=milestone_id)[
            "milestone"
        ]
        if milestone["status"] == "RELEASED" or time.monotonic() > deadline:
            return milestone
        time.sleep(0.2)


def test_a_deadline_that_passed_while_no_server_ran_fires_at_the_next_start(
    server: Server,
) -> None:
    # given the demo contract whose work was submitted before the server started
    contracts = server.graphql(server.client, MILESTONES, status="ACTIVE")["contracts"]["edges"]
    submitted = next(c["node"] for c in contracts if "submitted" in c["node"]["title"])
    first = submitted["milestones"][0]
    # when the started server's scheduler has had its first run
    milestone = wait_for_release(server, first["id"], seconds=5)
    # then the requested amount was released automatically
    assert milestone == {"status": "RELEASED", "releasedAmount": {"amount": "1200.00"}}
    events = server.graphql(server.client, MILESTONES, status="ACTIVE")["contracts"]["edges"]
    node = next(c["node"] for c in events if c["node"]["id"] == submitted["id"])
    released = [
        e["node"] for e in node["events"]["edges"] if e["node"]["type"] == "MILESTONE_RELEASED"
    ]
    assert released == [
        {"type": "MILESTONE_RELEASED", "actor": None, "amount": {"amount": "1200.00"}}
    ]


def test_submitted_work_is_released_by_the_running_scheduler_after_the_window(
    server: Server,
) -> None:
    # given work submitted on a running server
    freelancer_id = server.graphql(server.client, FREELANCER_ID)["contracts"]["edges"][0]["node"][
        "freelancer"
    ]["id"]
    offer = server.graphql(server.client, OFFER, freelancer=freelancer_id)["createContract"]
    contract_id, milestone_id = offer["contract"]["id"], offer["contract"]["milestones"][0]["id"]
    server.graphql(server.freelancer, ACCEPT, id=contract_id)
    server.graphql(server.client, FUND, id=milestone_id)
    submitted = server.graphql(server.freelancer, SUBMIT, id=milestone_id)["submitMilestone"]
    assert submitted["milestone"]["status"] == "SUBMITTED"
    assert submitted["milestone"]["autoReleaseAt"] is not None
    # when the window passes, with only reads sent meanwhile
    milestone = wait_for_release(server, milestone_id, seconds=WINDOW + 5)
    # then the scheduler released it
    assert milestone == {"status": "RELEASED", "releasedAmount": {"amount": "40.00"}}
