"""GraphQL over HTTP (docs/transport.md): `application/graphql-response+json` with the spec's
status codes, `application/json` kept at HTTP 200, a JSON `errors` body with `extensions.code`
for every refused request, a document of several operations without `operationName` refused,
`Allow` on a 405, and the CORS headers real clients send."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.main import create_app
from app.services.runtime import Runtime
from app.settings import Settings

GRAPHQL_RESPONSE = "application/graphql-response+json"
POLICY = "{ policy { maxMilestonesPerContract } }"
TWO_OPERATIONS = "query A { policy { maxMilestonesPerContract } } query B { __typename }"


@contextlib.asynccontextmanager
async def app_client(runtime: Runtime, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the in-process app with these settings (for another server process on
    the same database, as far as the database can tell)."""
    app = create_app(
        Settings(SECRET_KEY=runtime.secret_key, **settings), runtime=runtime, database=False
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


@pytest.fixture
async def cors_http(db: None, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a browser origin allowed."""
    async with app_client(runtime, CORS_ORIGINS=("https://app.example",)) as client:
        yield client


def _codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body["errors"]]


async def _post(http: httpx.AsyncClient, body: object, accept: str | None = None) -> httpx.Response:
    headers = {"accept": accept} if accept else {}
    return await http.post("/graphql", json=body, headers=headers)


@pytest.mark.parametrize(
    "accept",
    [
        GRAPHQL_RESPONSE,
        f"{GRAPHQL_RESPONSE}, application/json;q=0.9",
        f"application/json;q=0.5, {GRAPHQL_RESPONSE}",
    ],
)
async def test_a_client_preferring_the_graphql_media_type_is_answered_in_it(
    http: httpx.AsyncClient, accept: str
) -> None:
    response = await _post(http, {"query": POLICY}, accept)

    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert response.json() == {"data": {"policy": {"maxMilestonesPerContract": 200}}}


@pytest.mark.parametrize(
    "accept", [None, "*/*", "application/json", f"application/json, {GRAPHQL_RESPONSE};q=0.5"]
)
async def test_other_clients_get_application_json(
    http: httpx.AsyncClient, accept: str | None
) -> None:
    response = await _post(http, {"query": "{ nope }"}, accept)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["data"] is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param({"query": "{ policy {"}, "BAD_REQUEST", id="syntax error"),
        pytest.param({"query": "{ nope }"}, "BAD_REQUEST", id="validation error"),
        pytest.param(
            {"query": "query($n: Int!) { __typename }", "variables": {"n": "x"}},
            "BAD_REQUEST",
            id="variable coercion",
        ),
        pytest.param({"query": TWO_OPERATIONS}, "BAD_REQUEST", id="two operations, no name"),
    ],
)
async def test_a_request_error_is_400_without_data_in_the_graphql_media_type(
    http: httpx.AsyncClient, body: dict[str, Any], code: str
) -> None:
    response = await _post(http, body, GRAPHQL_RESPONSE)

    assert response.status_code == 400
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    answer = response.json()
    assert "data" not in answer
    assert _codes(answer) == [code]


async def test_a_field_error_keeps_200_and_data_in_the_graphql_media_type(
    http: httpx.AsyncClient,
) -> None:
    response = await _post(http, {"query": "{ viewer { id } }"}, GRAPHQL_RESPONSE)

    assert response.status_code == 200
    answer = response.json()
    assert answer["data"] is None
    assert _codes(answer) == ["UNAUTHENTICATED"]


async def test_a_document_of_several_operations_needs_an_operation_name(
    http: httpx.AsyncClient,
) -> None:
    # when sent without operationName, then it is refused (application/json keeps 200)
    refused = await _post(http, {"query": TWO_OPERATIONS})
    assert refused.status_code == 200
    assert _codes(refused.json()) == ["BAD_REQUEST"]
    assert "operationName" in refused.json()["errors"][0]["message"]
    # and with one, the operation named runs
    named = await _post(http, {"query": TWO_OPERATIONS, "operationName": "B"})
    assert named.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    ("send", "status"),
    [
        pytest.param(
            {"json": {"query": POLICY, "operationName": "Missing"}}, 400, id="unknown operation"
        ),
        pytest.param({"json": {"variables": {}}}, 400, id="no query"),
        pytest.param({"json": {"query": POLICY, "operationName": 7}}, 400, id="name not a string"),
        pytest.param(
            {
                "content": b"query=x",
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
            400,
            id="form post",
        ),
        pytest.param(
            {"content": b"{ __typename }", "headers": {"content-type": "application/graphql"}},
            400,
            id="application/graphql",
        ),
        pytest.param({"content": b'{"query": "{ __typename }"}'}, 400, id="no content type"),
    ],
)
@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
async def test_a_refused_request_has_a_json_errors_body_with_a_code(
    http: httpx.AsyncClient, send: dict[str, Any], status: int, accept: str
) -> None:
    headers = {"accept": accept, **send.pop("headers", {})}
    response = await http.post("/graphql", headers=headers, **send)

    assert response.status_code == status
    assert response.headers["content-type"] == accept
    answer = response.json()
    assert list(answer) == ["errors"]
    assert _codes(answer) == ["BAD_REQUEST"]


async def test_a_body_over_the_limit_is_413_in_the_media_type_asked_for(
    http: httpx.AsyncClient,
) -> None:
    headers = {"content-type": "application/json", "accept": GRAPHQL_RESPONSE}

    response = await http.post("/graphql", content=b" " * 1_000_001, headers=headers)

    assert response.status_code == 413
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert _codes(response.json()) == ["BAD_REQUEST"]


async def test_a_mutation_by_get_is_405_with_allow_post(http: httpx.AsyncClient) -> None:
    response = await http.get(
        "/graphql", params={"query": "mutation { logout { userErrors { code } } }"}
    )

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert _codes(response.json()) == ["BAD_REQUEST"]


@pytest.mark.parametrize("method", ["HEAD", "PUT", "DELETE", "PATCH"])
async def test_every_405_carries_allow(http: httpx.AsyncClient, method: str) -> None:
    response = await http.request(method, "/graphql", params={"query": POLICY})

    assert response.status_code == 405
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert {"GET", "POST"} <= allowed


CLIENT_HEADERS = [
    "apollographql-client-name",
    "apollographql-client-version",
    "traceparent",
    "sentry-trace",
    "baggage",
]


async def test_a_preflight_with_the_headers_real_clients_send_is_allowed(
    cors_http: httpx.AsyncClient,
) -> None:
    response = await cors_http.options(
        "/graphql",
        headers={
            "origin": "https://app.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": ", ".join(
                ["authorization", "content-type", *CLIENT_HEADERS]
            ),
        },
    )

    assert response.status_code == 200, response.text
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"authorization", "content-type", *CLIENT_HEADERS} <= allowed


async def test_a_cross_origin_script_may_read_retry_after(cors_http: httpx.AsyncClient) -> None:
    response = await cors_http.post(
        "/graphql", json={"query": POLICY}, headers={"origin": "https://app.example"}
    )

    assert response.headers["access-control-allow-origin"] == "https://app.example"
    assert response.headers["access-control-expose-headers"].lower() == "retry-after"
