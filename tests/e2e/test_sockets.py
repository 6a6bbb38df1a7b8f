"""Both socket protocols with the clients that speak them (issue 10 point 2), against a real
`python -m app serve`: queries and mutations over the legacy `graphql-ws` (what gql's
WebsocketsTransport and subscriptions-transport-ws speak), the same token re-check and rate
limits as subscriptions, the server's own keep-alive on both protocols, the reasons of the
closes a client sees, and gql's transports with `fetch_schema_from_transport=True` on each
subprotocol. Raw WebSocket frames where gql hides the wire (docs/subscriptions.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.e2e.conftest import _seed, _server_env
from tests.e2e.servers import (
    CONTRACT_EVENTS,
    LEGACY_WS,
    SUBPROTOCOLS,
    TIMEOUT,
    TRANSPORT_WS,
    VIEWER,
    Server,
    active_contract,
    http,
    pay_bonus,
    raw_socket,
    receive,
    running,
    send,
    start_server,
)

pytestmark = [pytest.mark.e2e, pytest.mark.own_database("sqlite")]

KEEP_ALIVE = 0.5  # seconds: WS_KEEP_ALIVE_INTERVAL of the servers here
RATE_LIMIT = 5  # per minute, of the rate-limited server
CONTRACT = "query($id: ID!) { contract(id: $id) { id title status } }"
CREATE_CONTRACT = """
mutation($input: CreateContractInput!) {
  createContract(input: $input) { contract { id title status } userErrors { code message } }
}
"""
CREATE_API_TOKEN = """
mutation($name: String!) {
  createApiToken(input: {name: $name, scopes: [READ, WRITE]}) { token apiToken { id } }
}
"""
REVOKE = "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { userErrors { code } } }"


@dataclass(frozen=True)
class Demo:
    server: Server
    client_token: str
    freelancer_token: str


def _demo(tmp_path_factory: pytest.TempPathFactory, name: str, **settings: str) -> Iterator[Demo]:
    workdir = tmp_path_factory.mktemp(name)
    env = _server_env(workdir)
    env.update(WS_KEEP_ALIVE_INTERVAL=f"{KEEP_ALIVE}s", **settings)
    client, freelancer, _admin = _seed(workdir, env)
    with running(start_server(workdir, env)) as (server,):
        yield Demo(server, client, freelancer)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    yield from _demo(tmp_path_factory, "e2e-sockets")


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """A server that admits RATE_LIMIT requests a minute per token and per address."""
    yield from _demo(tmp_path_factory, "e2e-sockets-limited", RATE_LIMIT_PER_MINUTE=str(RATE_LIMIT))


def _tracebacks(server: Server) -> int:
    return server.log.read_text(encoding="utf-8", errors="replace").count("Traceback")


async def _acknowledged(socket: ClientConnection, token: str) -> None:
    await send(socket, {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    assert (await receive(socket))["type"] == "connection_ack"


async def _close_of(socket: ClientConnection) -> tuple[int, str]:
    """The code and reason of the close the server sends next (keep-alives skipped)."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await receive(socket)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def _messages_for(
    socket: ClientConnection, operation_id: str, until: tuple[str, ...] = ("complete", "error")
) -> list[dict[str, Any]]:
    """The messages of one operation up to one of type `until` (by default those that end it),
    skipping the keep-alives and the other operations' messages."""
    found: list[dict[str, Any]] = []
    while True:
        message = await receive(socket)
        if message.get("id") != operation_id:
            continue
        found.append(message)
        if message["type"] in until:
            return found


async def _start(
    socket: ClientConnection, operation_id: str, query: str, variables: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    payload = {"query": query, "variables": variables or {}}
    await send(socket, {"id": operation_id, "type": "start", "payload": payload})
    return await _messages_for(socket, operation_id)


# --- queries and mutations over the legacy protocol, raw frames -----------------------------


async def test_a_query_over_graphql_ws_answers_data_then_complete(demo: Demo) -> None:
    before = _tracebacks(demo.server)
    async with raw_socket(demo.server, LEGACY_WS) as socket:
        await _acknowledged(socket, demo.client_token)
        messages = await _start(socket, "1", VIEWER)

    data, complete = messages
    assert data["type"] == "data", messages
    assert set(data["payload"]) == {"data"}
    assert set(data["payload"]["data"]["viewer"]) == {"id", "name"}
    assert complete == {"id": "1", "type": "complete"}
    assert _tracebacks(demo.server) == before


async def test_a_mutation_over_graphql_ws_is_done_once_and_answered(demo: Demo) -> None:
    async with http(demo.server) as api:
        freelancer = (await api.ok(VIEWER, token=demo.freelancer_token))["viewer"]
        fields = {
            "freelancerId": freelancer["id"],
            "title": "Over the legacy socket",
            "milestones": [{"title": "One", "amount": "100.00"}],
        }
        async with raw_socket(demo.server, LEGACY_WS) as socket:
            await _acknowledged(socket, demo.client_token)
            data, complete = await _start(socket, "m", CREATE_CONTRACT, {"input": fields})

        assert complete == {"id": "m", "type": "complete"}
        payload = data["payload"]["data"]["createContract"]
        assert payload["userErrors"] == []
        assert payload["contract"]["status"] == "OFFERED"
        stored = await api.ok(CONTRACT, {"id": payload["contract"]["id"]}, demo.client_token)
        assert stored["contract"] == payload["contract"]


async def test_a_query_and_a_subscription_share_one_legacy_socket(demo: Demo) -> None:
    async with http(demo.server) as api:
        contract = await active_contract(api, demo.client_token, demo.freelancer_token)
        async with raw_socket(demo.server, LEGACY_WS) as socket:
            await _acknowledged(socket, demo.freelancer_token)
            payload = {"query": CONTRACT_EVENTS, "variables": {"id": contract.id, "after": 2}}
            await send(socket, {"id": "s", "type": "start", "payload": payload})
            data, _complete = await _start(socket, "q", CONTRACT, {"id": contract.id})
            assert data["payload"]["data"]["contract"]["status"] == "ACTIVE"
            await pay_bonus(api, demo.client_token, contract.id)
            [event, *_] = await _messages_for(socket, "s", until=("data",))
    assert event["payload"]["data"]["contractEvents"]["sequence"] == 3


async def test_an_invalid_query_over_graphql_ws_is_one_error_not_internal(demo: Demo) -> None:
    before = _tracebacks(demo.server)
    async with raw_socket(demo.server, LEGACY_WS) as socket:
        await _acknowledged(socket, demo.client_token)
        [error] = await _start(socket, "1", "query { viewer { noSuchField } }")
        [data, complete] = await _start(socket, "2", VIEWER)  # the socket is still open

    assert error["type"] == "error"
    assert error["payload"]["extensions"]["code"] != "INTERNAL"
    assert "noSuchField" in error["payload"]["message"]
    assert data["type"] == "data" and complete["type"] == "complete"
    assert _tracebacks(demo.server) == before


async def test_a_query_on_a_revoked_token_is_unauthenticated_and_closes_4403(demo: Demo) -> None:
    async with http(demo.server) as api:
        made = (await api.ok(CREATE_API_TOKEN, {"name": "legacy"}, demo.client_token))[
            "createApiToken"
        ]
        async with raw_socket(demo.server, LEGACY_WS) as socket:
            await _acknowledged(socket, made["token"])
            revoked = await api.ok(REVOKE, {"id": made["apiToken"]["id"]}, demo.client_token)
            assert revoked["revokeApiToken"]["userErrors"] == []
            [refused] = await _start(socket, "1", VIEWER)
            close = await _close_of(socket)

    assert refused["type"] == "error", refused
    assert refused["payload"]["extensions"]["code"] == "UNAUTHENTICATED"
    assert close == (4403, "The token was revoked or has expired")


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
async def test_queries_over_a_socket_count_against_the_rate_limit(
    limited: Demo, subprotocol: str
) -> None:
    token = limited.client_token if subprotocol == TRANSPORT_WS else limited.freelancer_token
    kind = "subscribe" if subprotocol == TRANSPORT_WS else "start"
    codes = []
    async with raw_socket(limited.server, subprotocol) as socket:
        await _acknowledged(socket, token)
        for number in range(RATE_LIMIT + 1):
            operation_id = str(number)
            payload = {"query": VIEWER, "variables": {}}
            await send(socket, {"id": operation_id, "type": kind, "payload": payload})
            first = (await _messages_for(socket, operation_id))[0]
            if first["type"] == "error":
                errors = first["payload"] if subprotocol == TRANSPORT_WS else [first["payload"]]
                codes.append(errors[0]["extensions"]["code"])
            else:
                codes.append("OK")

    assert codes == ["OK"] * RATE_LIMIT + ["RATE_LIMITED"]


# --- automatic persisted queries, both protocols --------------------------------------------


def _persisted(query: str | None, document: str) -> dict[str, Any]:
    sha256 = hashlib.sha256(document.encode()).hexdigest()
    payload: dict[str, Any] = {
        "variables": {},
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256}},
    }
    if query is not None:
        payload["query"] = query
    return payload


async def _operation(
    socket: ClientConnection, subprotocol: str, operation_id: str, payload: dict[str, Any]
) -> list[dict[str, Any]]:
    kind = "subscribe" if subprotocol == TRANSPORT_WS else "start"
    await send(socket, {"id": operation_id, "type": kind, "payload": payload})
    return await _messages_for(socket, operation_id)


def _error_codes(subprotocol: str, message: dict[str, Any]) -> list[str]:
    assert message["type"] == "error", message
    errors = message["payload"] if subprotocol == TRANSPORT_WS else [message["payload"]]
    return [error["extensions"]["code"] for error in errors]


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
async def test_a_persisted_query_over_a_socket_is_asked_for_then_stored(
    demo: Demo, subprotocol: str
) -> None:
    document = f"query PersistedOver{subprotocol.replace('-', '')} {{ viewer {{ id name }} }}"
    async with raw_socket(demo.server, subprotocol) as socket:
        await _acknowledged(socket, demo.client_token)
        [unknown] = await _operation(socket, subprotocol, "1", _persisted(None, document))
        [registered, _] = await _operation(socket, subprotocol, "2", _persisted(document, document))
        [by_hash, complete] = await _operation(socket, subprotocol, "3", _persisted(None, document))

    assert _error_codes(subprotocol, unknown) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert "PersistedQueryNotFound" in json.dumps(unknown["payload"])
    assert set(registered["payload"]["data"]["viewer"]) == {"id", "name"}
    assert by_hash["payload"] == registered["payload"]
    assert complete["type"] == "complete"


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
async def test_a_persisted_query_whose_hash_is_another_texts_is_refused(
    demo: Demo, subprotocol: str
) -> None:
    async with raw_socket(demo.server, subprotocol) as socket:
        await _acknowledged(socket, demo.client_token)
        payload = _persisted(VIEWER, "query { viewer { id } }")
        [refused] = await _operation(socket, subprotocol, "1", payload)
        [data, _] = await _operation(socket, subprotocol, "2", {"query": VIEWER})

    assert _error_codes(subprotocol, refused) == ["BAD_REQUEST"]
    assert data["payload"]["data"]["viewer"]


async def test_a_legacy_start_without_a_query_is_one_bad_request(demo: Demo) -> None:
    before = _tracebacks(demo.server)
    async with raw_socket(demo.server, LEGACY_WS) as socket:
        await _acknowledged(socket, demo.client_token)
        [refused] = await _operation(socket, LEGACY_WS, "1", {"variables": {}})
        [data, _] = await _operation(socket, LEGACY_WS, "2", {"query": VIEWER})

    assert _error_codes(LEGACY_WS, refused) == ["BAD_REQUEST"]
    assert data["type"] == "data"
    assert _tracebacks(demo.server) == before


# --- keep-alive and closes -------------------------------------------------------------------


async def test_the_server_pings_an_idle_graphql_transport_ws_socket(demo: Demo) -> None:
    async with raw_socket(demo.server, TRANSPORT_WS) as socket:
        await _acknowledged(socket, demo.client_token)
        assert await receive(socket, within=KEEP_ALIVE * 4) == {"type": "ping"}
        await send(socket, {"type": "pong"})
        assert await receive(socket, within=KEEP_ALIVE * 4) == {"type": "ping"}
        [data, _complete] = await _messages_after_subscribe(socket, VIEWER)
        assert data["type"] == "next"


async def _messages_after_subscribe(socket: ClientConnection, query: str) -> list[dict[str, Any]]:
    await send(socket, {"id": "1", "type": "subscribe", "payload": {"query": query}})
    return await _messages_for(socket, "1")


async def test_the_server_sends_ka_on_an_idle_legacy_socket_every_interval(demo: Demo) -> None:
    async with raw_socket(demo.server, LEGACY_WS) as socket:
        await _acknowledged(socket, demo.client_token)
        for _ in range(3):
            assert await receive(socket, within=KEEP_ALIVE * 4) == {"type": "ka"}


async def test_a_refused_connection_init_closes_with_the_servers_message(demo: Demo) -> None:
    async with raw_socket(demo.server, TRANSPORT_WS) as socket:
        await send(socket, {"type": "connection_init", "payload": {"Authorization": "Bearer x"}})
        assert await _close_of(socket) == (4403, "A valid bearer token is required")


@pytest.mark.parametrize("offered", [["graphql-sse"], ["nonsense", "v2.graphql"], None])
async def test_an_unknown_subprotocol_is_refused_with_4406_and_a_reason(
    demo: Demo, offered: list[str] | None
) -> None:
    async with connect(
        demo.server.ws_url,
        subprotocols=[Subprotocol(name) for name in offered] if offered else None,
        open_timeout=TIMEOUT,
        ping_interval=None,
    ) as socket:
        assert socket.subprotocol is None
        assert await _close_of(socket) == (4406, "Subprotocol not acceptable")


# --- gql's WebsocketsTransport ----------------------------------------------------------------


@dataclass(frozen=True)
class GqlSession:
    session: Any  # gql's AsyncClientSession
    expected: str  # the subprotocol it should speak


@pytest.fixture
async def gql_session(demo: Demo, request: pytest.FixtureRequest) -> AsyncIterator[GqlSession]:
    """A gql session over WebSocket, `fetch_schema_from_transport=True`: it introspects the
    schema by a query over the socket before anything else. `request.param` is the list of
    subprotocols offered (None: gql's default, which offers graphql-ws first)."""
    offered: list[str] = request.param or [LEGACY_WS, TRANSPORT_WS]
    transport = WebsocketsTransport(
        url=demo.server.ws_url,
        init_payload={"Authorization": f"Bearer {demo.client_token}"},
        subprotocols=offered,
        connect_timeout=TIMEOUT,
        ack_timeout=TIMEOUT,
    )
    client = Client(transport=transport, fetch_schema_from_transport=True)
    session = await client.connect_async()
    try:
        yield GqlSession(session, offered[0])
    finally:
        await client.close_async()


GQL_PROTOCOLS = [None, [LEGACY_WS], [TRANSPORT_WS]]


@pytest.mark.parametrize("gql_session", GQL_PROTOCOLS, indirect=True, ids=str)
async def test_gql_over_websocket_introspects_queries_and_mutates(
    demo: Demo, gql_session: GqlSession
) -> None:
    session = gql_session.session
    assert session.transport.subprotocol == gql_session.expected
    assert session.client.schema is not None
    assert session.client.schema.get_type("Contract") is not None

    viewer = await session.execute(gql(VIEWER))
    async with http(demo.server) as api:
        freelancer = (await api.ok(VIEWER, token=demo.freelancer_token))["viewer"]
    created = await session.execute(
        gql(CREATE_CONTRACT),
        variable_values={
            "input": {
                "freelancerId": freelancer["id"],
                "title": "Over gql",
                "milestones": [{"title": "One", "amount": "10.00"}],
            }
        },
    )

    assert set(viewer["viewer"]) == {"id", "name"}
    assert created["createContract"]["userErrors"] == []
    assert created["createContract"]["contract"]["title"] == "Over gql"


@pytest.mark.parametrize("gql_session", GQL_PROTOCOLS, indirect=True, ids=str)
async def test_gql_over_websocket_subscribes_after_introspecting(
    demo: Demo, gql_session: GqlSession
) -> None:
    assert gql_session.session.transport.subprotocol == gql_session.expected
    async with http(demo.server) as api:
        contract = await active_contract(api, demo.client_token, demo.freelancer_token)
        stream = gql_session.session.subscribe(
            gql(CONTRACT_EVENTS), variable_values={"id": contract.id, "after": 0}
        )
        seen = [(await anext(stream))["contractEvents"]["sequence"] for _ in range(2)]
        await pay_bonus(api, demo.client_token, contract.id)
        seen.append((await anext(stream))["contractEvents"]["sequence"])
        await stream.aclose()

    assert seen == [1, 2, 3]
