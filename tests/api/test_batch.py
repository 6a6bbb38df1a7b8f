"""Batches for Apollo's BatchHttpLink (docs/transport.md#batches): a JSON array of up to
MAX_BATCH operations is answered with an array of results in order, each operation run after
the one before it and counted by the cost and rate limits; a longer array is one BAD_REQUEST."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.httpx import HTTPXAsyncTransport

from app.services.runtime import Runtime
from tests.api.client import Api
from tests.api.people import Parties
from tests.api.test_http_spec import app_client
from tests.support import make_person

POLICY = "{ policy { maxMilestonesPerContract } }"
CREATE_TOKEN = """
mutation($name: String!) {
  createApiToken(input: {name: $name, scopes: [READ]}) { apiToken { name } userErrors { code } }
}
"""
TOKEN_NAMES = "{ apiTokens { name } }"
EXPENSIVE = """
query($n: Int!) {
  contracts(first: $n) {
    edges { node { id events(first: $n) { edges { node { id type } } } } }
  }
}
"""


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors", [])]


@pytest.fixture
async def limited_http(db: None, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The app with three requests a minute per token, and batches of up to four."""
    async with app_client(runtime, RATE_LIMIT_PER_MINUTE=3, MAX_BATCH=4) as client:
        yield client


async def test_a_batch_is_answered_in_order_each_operation_after_the_one_before(
    http: httpx.AsyncClient, parties: Parties
) -> None:
    batch = [
        {"query": CREATE_TOKEN, "variables": {"name": "first"}},
        {"query": TOKEN_NAMES},
        {"query": POLICY},
    ]

    response = await http.post("/graphql", json=batch, headers=_bearer(parties.client.token))

    assert response.status_code == 200
    first, names, policy = response.json()
    assert first == {"data": {"createApiToken": {"apiToken": {"name": "first"}, "userErrors": []}}}
    # the query after the mutation sees it
    assert {"name": "first"} in names["data"]["apiTokens"]
    assert policy == {"data": {"policy": {"maxMilestonesPerContract": 200}}}


async def test_gql_batches_as_apollo_batch_http_link_does(api: Api, parties: Parties) -> None:
    transport = HTTPXAsyncTransport(
        url="http://testserver/graphql",
        transport=httpx.ASGITransport(app=api.app),
        headers=_bearer(parties.client.token),
    )
    async with Client(transport=transport) as session:
        results = await session.execute_batch(
            [GraphQLRequest(POLICY), GraphQLRequest("{ viewer { id } }")]
        )

    assert results == [
        {"policy": {"maxMilestonesPerContract": 200}},
        {"viewer": {"id": parties.client.id}},
    ]


async def test_an_operation_refused_in_a_batch_is_its_own_error(
    http: httpx.AsyncClient,
) -> None:
    batch = [
        {"query": POLICY, "operationName": "Missing"},
        {"query": "{ nope }"},
        {"variables": {}},
        {"query": POLICY},
    ]

    response = await http.post("/graphql", json=batch)

    assert response.status_code == 200
    answers = response.json()
    assert [_codes(a) for a in answers] == [["BAD_REQUEST"], ["BAD_REQUEST"], ["BAD_REQUEST"], []]
    assert answers[3] == {"data": {"policy": {"maxMilestonesPerContract": 200}}}


async def test_each_operation_of_a_batch_is_held_to_the_cost_limit(
    http: httpx.AsyncClient, parties: Parties
) -> None:
    batch = [{"query": POLICY}, {"query": EXPENSIVE, "variables": {"n": 100}}]

    response = await http.post("/graphql", json=batch, headers=_bearer(parties.client.token))

    cheap, expensive = response.json()
    assert _codes(cheap) == []
    assert _codes(expensive) == ["BAD_REQUEST"]
    assert expensive["data"] is None


async def test_each_operation_of_a_batch_counts_against_the_rate_limit(
    runtime: Runtime, limited_http: httpx.AsyncClient
) -> None:
    carol = await make_person(runtime, "Carol")

    # when a token allowed three requests a minute sends a batch of four
    response = await limited_http.post(
        "/graphql", json=[{"query": POLICY}] * 4, headers=_bearer(carol.token)
    )

    # then the fourth operation is refused, with Retry-After
    assert response.status_code == 200
    assert [_codes(a) for a in response.json()] == [[], [], [], ["RATE_LIMITED"]]
    assert int(response.headers["retry-after"]) > 0
    # and so is the next request
    after = await limited_http.post(
        "/graphql", json={"query": POLICY}, headers=_bearer(carol.token)
    )
    assert _codes(after.json()) == ["RATE_LIMITED"]


async def test_a_batch_longer_than_max_batch_is_one_bad_request(
    limited_http: httpx.AsyncClient,
) -> None:
    response = await limited_http.post("/graphql", json=[{"query": POLICY}] * 5)

    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["errors"]
    assert _codes(body) == ["BAD_REQUEST"]
    assert "at most 4" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "batch", [pytest.param([], id="empty"), pytest.param([{"query": POLICY}, 3], id="a number")]
)
async def test_a_malformed_batch_is_one_bad_request(
    http: httpx.AsyncClient, batch: list[Any]
) -> None:
    response = await http.post("/graphql", json=batch)

    assert response.status_code == 400
    assert _codes(response.json()) == ["BAD_REQUEST"]


async def test_the_default_batch_holds_ten(http: httpx.AsyncClient) -> None:
    ten = await http.post("/graphql", json=[{"query": POLICY}] * 10)
    eleven = await http.post("/graphql", json=[{"query": POLICY}] * 11)

    assert ten.status_code == 200
    assert len(ten.json()) == 10
    assert eleven.status_code == 400
