"""The caps on change requests and refund requests, as a client of the API sees them: the
refusal past a cap, and the node count that counts those lists by their caps (issue 7)."""

from __future__ import annotations

from app.domain.requests import MAX_CHANGE_REQUESTS, MAX_REFUND_REQUESTS
from app.graphql import limits
from tests.api.client import Api
from tests.api.people import Parties
from tests.api.scenarios import funded, milestone_ids
from tests.api.test_requests_api import (
    REQUEST_REFUND,
    RESPOND_TO_REFUND,
    done,
    milestone_of,
    mutate,
)
from tests.services.test_query_counts import DASHBOARD

EVERY_REFUND_REQUEST = """
query { contracts(first: 20) { edges { node {
  id milestones { id refundRequests { id status } }
} } } }
"""

EVERY_CHANGE = """
query { contracts(first: 20) { edges { node {
  id changeRequests { id status changes { action title } }
} } } }
"""

DASHBOARD_WITH_CHANGE_REQUESTS = DASHBOARD.replace(
    "milestones {\n", "changeRequests { id status }\n        milestones {\n", 1
)


def test_the_node_count_takes_the_caps_as_the_sizes_of_those_lists() -> None:
    sizes = limits.list_sizes(200)

    assert sizes["Contract.changeRequests"] == MAX_CHANGE_REQUESTS
    assert sizes["Milestone.refundRequests"] == MAX_REFUND_REQUESTS


async def test_twenty_contracts_with_every_refund_request_are_answered(
    api: Api, parties: Parties
) -> None:
    # given: 20 contracts * 200 milestones * a page of 100 refund requests was 808k nodes;
    # with the cap it is 88k
    await funded(api, parties, "100.00")

    result = await api.raw(EVERY_REFUND_REQUEST, None, parties.client.token)

    assert result.errors == []
    assert result.data is not None
    (edge,) = result.data["contracts"]["edges"]
    assert edge["node"]["milestones"][0]["refundRequests"] == []


async def test_twenty_contracts_with_every_change_are_answered(api: Api, parties: Parties) -> None:
    # given: 20 contracts * 100 change requests * 200 changes was 806k nodes; 161k with the cap
    await funded(api, parties, "100.00")

    result = await api.raw(EVERY_CHANGE, None, parties.client.token)

    assert result.errors == []
    assert result.data is not None
    assert result.data["contracts"]["edges"][0]["node"]["changeRequests"] == []


async def test_the_dashboard_with_each_contracts_change_requests_is_answered(
    api: Api, parties: Parties
) -> None:
    await funded(api, parties, "100.00")

    result = await api.raw(DASHBOARD_WITH_CHANGE_REQUESTS, {"first": 50}, parties.client.token)

    assert result.errors == []
    assert result.data is not None
    assert result.data["contracts"]["edges"][0]["node"]["changeRequests"] == []


async def test_a_refund_request_past_the_cap_is_an_invalid_state_user_error(
    api: Api, parties: Parties
) -> None:
    # given: a funded milestone with MAX_REFUND_REQUESTS declined refund requests
    contract = await funded(api, parties, "100.00")
    milestone = milestone_ids(contract)[0]
    for _ in range(MAX_REFUND_REQUESTS):
        asked = await done(api, REQUEST_REFUND, parties.client.token, milestoneId=milestone)
        await done(
            api,
            RESPOND_TO_REFUND,
            parties.freelancer.token,
            refundRequestId=asked["refundRequest"]["id"],
            approve=False,
        )

    # when
    payload = await mutate(api, REQUEST_REFUND, parties.client.token, milestoneId=milestone)

    # then
    assert payload["refundRequest"] is None
    (error,) = payload["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID_STATE", ["milestoneId"])
    assert f"at most {MAX_REFUND_REQUESTS} refund requests" in error["message"]
    shown = await milestone_of(api, parties, milestone)
    assert shown["status"] == "FUNDED"
    assert [r["status"] for r in shown["refundRequests"]] == ["DECLINED"] * MAX_REFUND_REQUESTS
