"""HTTP around GraphQL (§2, §6.24): GET for queries only, 400 for a body that is not a GraphQL
request, the health and metrics endpoints, and no stack trace or SQL in any error."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.client import Api
from tests.api.operations import (
    CONTRACT,
    milestone_input,
    raw_create_contract,
    raw_register,
    raw_release_milestone,
)
from tests.api.people import Parties
from tests.api.scenarios import funded, milestone_ids

POLICY_QUERY = "{ policy { maxMilestonesPerContract minimumMilestoneAmount { amount } } }"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_query_by_get_is_answered(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", params={"query": POLICY_QUERY})

    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "policy": {
                "maxMilestonesPerContract": 200,
                "minimumMilestoneAmount": {"amount": "5.00"},
            }
        }
    }


async def test_a_query_by_get_carries_the_token_and_variables(
    http: httpx.AsyncClient, parties: Parties, api: Api
) -> None:
    contract = await funded(api, parties, "100.00")

    response = await http.get(
        "/graphql",
        params={
            "query": "query($id: ID!) { viewer { id } contract(id: $id) { status } }",
            "variables": json.dumps({"id": contract["id"]}),
        },
        headers=_bearer(parties.client.token),
    )

    assert response.status_code == 200
    assert response.json()["data"] == {
        "viewer": {"id": parties.client.id},
        "contract": {"status": "ACTIVE"},
    }


async def test_a_mutation_by_get_is_method_not_allowed(
    http: httpx.AsyncClient, parties: Parties
) -> None:
    query = 'mutation { createApiToken(input: {name: "x", scopes: [READ]}) { token } }'

    response = await http.get(
        "/graphql", params={"query": query}, headers=_bearer(parties.client.token)
    )

    assert response.status_code == 405


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param(b"this is not json", "application/json", id="not json"),
        pytest.param(b'{"foo": 1}', "application/json", id="json without a query"),
        pytest.param(b'{"query": 42}', "application/json", id="query not a string"),
        pytest.param(b"[1, 2, 3]", "application/json", id="a json list"),
        pytest.param(b"", "application/json", id="empty"),
    ],
)
async def test_a_body_that_is_not_a_graphql_request_is_a_bad_request(
    http: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    response = await http.post("/graphql", content=content, headers={"content-type": content_type})

    assert response.status_code == 400
    _assert_no_leak(response.text)


async def test_a_refused_graphql_request_is_http_200_with_errors(http: httpx.AsyncClient) -> None:
    query = (
        "{ " + " ".join(f"a{n}: policy {{ maxMilestonesPerContract }}" for n in range(51)) + " }"
    )

    response = await http.post("/graphql", json={"query": query})

    assert response.status_code == 200
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_REQUEST"]


async def test_healthz_answers_ok(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")

    assert response.status_code == 200


async def test_readyz_answers_ok_with_the_database_reachable(http: httpx.AsyncClient) -> None:
    response = await http.get("/readyz")

    assert response.status_code == 200


async def test_metrics_are_prometheus_text(http: httpx.AsyncClient) -> None:
    await http.get("/graphql", params={"query": POLICY_QUERY})

    response = await http.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE" in response.text
    assert "# HELP" in response.text
    assert "/graphql" in response.text


# --- no stack trace or SQL reaches a client -------------------------------------------------

LEAK_MARKERS = ("Traceback", "SELECT", 'File "', "sqlite", "asyncpg", "psycopg")


def _assert_no_leak(text: str) -> None:
    for marker in LEAK_MARKERS:
        assert marker not in text, text


def _messages(value: Any) -> list[str]:
    """Every `message` anywhere in a response, top-level errors and userErrors alike."""
    if isinstance(value, dict):
        found = [value["message"]] if isinstance(value.get("message"), str) else []
        return found + [m for v in value.values() for m in _messages(v)]
    if isinstance(value, list):
        return [m for v in value for m in _messages(v)]
    return []


HOSTILE_REQUESTS: list[dict[str, Any]] = [
    {"query": "{ policy { "},
    {"query": "{ nope }"},
    {"query": "query($id: ID!) { contract(id: $id) { id } }", "variables": {"id": 12}},
    {"query": "query($id: ID!) { contract(id: $id) { id } }", "variables": {}},
    {"query": "query($id: ID!) { contract(id: $id) { id } }", "variables": {"id": "'; --"}},
    {"query": "{ contracts(first: 99999999999) { totalCount } }"},
    {"query": '{ contracts(after: "\' OR 1=1 --") { totalCount } }'},
    {"query": "{ viewer { id } }", "operationName": "Missing"},
    {"query": "mutation { nothing }"},
]


async def test_no_error_leaks_a_stack_trace_or_sql(
    http: httpx.AsyncClient, parties: Parties
) -> None:
    for body in HOSTILE_REQUESTS:
        response = await http.post("/graphql", json=body, headers=_bearer(parties.client.token))

        _assert_no_leak(response.text)
        if response.status_code == 200:
            codes = [e.get("extensions", {}).get("code") for e in response.json().get("errors", [])]
            assert "INTERNAL" not in codes, (body, response.text)


async def test_a_subscription_sent_over_http_is_refused_without_an_internal_error(
    http: httpx.AsyncClient, parties: Parties
) -> None:
    query = 'subscription { contractEvents(contractId: "x") { id } }'

    response = await http.post(
        "/graphql", json={"query": query}, headers=_bearer(parties.client.token)
    )

    _assert_no_leak(response.text)
    if response.status_code == 200:
        codes = [e["extensions"]["code"] for e in response.json()["errors"]]
        assert codes == ["BAD_REQUEST"], response.text
    else:
        assert response.status_code in (400, 405)


async def test_no_user_error_leaks_a_stack_trace_or_sql(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00")
    hostile = "'; DROP TABLE users; --"
    payloads = [
        await raw_register(api, hostile, hostile, "x"),
        await raw_register(api, "A" * 500, "a" * 400 + "@example.com", "p" * 2000),
        await raw_create_contract(
            api,
            parties.client.token,
            parties.freelancer.id,
            [milestone_input("9" * 40), milestone_input(hostile, title="T" * 300)],
            title=hostile,
            currency=hostile,
        ),
        await raw_create_contract(api, parties.client.token, hostile, [milestone_input()]),
        await raw_release_milestone(
            api, parties.client.token, milestone_ids(contract)[0], amount="1" * 33
        ),
        await raw_release_milestone(
            api, parties.client.token, milestone_ids(contract)[0], idempotency_key=hostile * 50
        ),
    ]
    read = await api.raw(CONTRACT, {"id": hostile}, parties.client.token)

    for payload in payloads:
        assert payload["userErrors"], payload
        for message in _messages(payload):
            _assert_no_leak(message)
    assert read.errors == []


async def test_a_hostile_title_is_stored_as_plain_text(api: Api, parties: Parties) -> None:
    hostile = "Robert'); DROP TABLE contracts; --"

    payload = await raw_create_contract(
        api, parties.client.token, parties.freelancer.id, [milestone_input()], title=hostile
    )

    assert payload["userErrors"] == []
    assert payload["contract"]["title"] == hostile
