"""Operations over WebSocket meet the same limits as over HTTP (issue 7, point 4): depth,
aliases, tokens, cost and nodes, for subscriptions and queries on both subprotocols. A refused
operation gets one `error` message for its id with `extensions.code: BAD_REQUEST`, and nothing
of it is executed or delivered."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.client import Api
from tests.api.people import Parties
from tests.api.scenarios import funded
from tests.api.websocket import WebSocketSession, websocket

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"


def subscription(selection: str) -> str:
    events = "contractEvents(contractId: $id, afterSequence: 0)"
    return f"subscription($id: ID!) {{ {events} {{ {selection} }} }}"


def nested_milestones(levels: int, start: str = "contract") -> str:
    """`levels` fields, alternating `start` and the other of contract and milestones."""
    pair = ("contract", "milestones") if start == "contract" else ("milestones", "contract")
    fields = [pair[level % 2] for level in range(levels - 1)]
    return " { ".join(fields) + " { id" + " }" * len(fields)


def nested_events(pages: int) -> str:
    """Connections of 100 events, `pages` deep: 100 ** pages events."""
    inner = "sequence"
    for _ in range(pages):
        inner = f"contract {{ events(first: 100) {{ edges {{ node {{ {inner} }} }} }} }}"
    return inner


REFUSED = {
    "depth 20": (subscription(nested_milestones(19)), "depth"),
    "51 aliases": (subscription(" ".join(f"a{n}: sequence" for n in range(51))), "aliases"),
    "300 aliases": (subscription(" ".join(f"a{n}: __typename" for n in range(300))), "aliases"),
    "100x100 connections": (subscription(nested_events(2)), "cost"),
    "8 million nodes": (subscription(nested_milestones(7)), "nodes"),
    "10,000 fields": (subscription(" ".join(["sequence"] * 10_000)), "tokens"),
}


def subscribe(subprotocol: str, operation_id: str, query: str, variables: dict[str, Any]) -> Any:
    kind = "subscribe" if subprotocol == TRANSPORT_WS else "start"
    return {
        "id": operation_id,
        "type": kind,
        "payload": {"query": query, "variables": variables},
    }


def error_codes(subprotocol: str, message: dict[str, Any]) -> list[str]:
    payload = message["payload"]
    errors = payload if subprotocol == TRANSPORT_WS else [payload]
    return [e.get("extensions", {}).get("code") for e in errors]


def error_text(message: dict[str, Any]) -> str:
    return str(message["payload"])


async def refused_on(
    session: WebSocketSession, subprotocol: str, query: str, variables: dict[str, Any]
) -> list[dict[str, Any]]:
    await session.send(subscribe(subprotocol, "1", query, variables))
    return await session.messages_for("1")


@pytest.mark.parametrize("subprotocol", [TRANSPORT_WS, LEGACY_WS])
@pytest.mark.parametrize("case", REFUSED)
async def test_a_subscription_over_the_limits_is_refused(
    api: Api, parties: Parties, subprotocol: str, case: str
) -> None:
    # given
    contract = await funded(api, parties, "100.00")
    query, word = REFUSED[case]

    # when
    async with websocket(api.app, subprotocol, parties.client.token) as session:
        messages = await refused_on(session, subprotocol, query, {"id": contract["id"]})

    # then: one error for the operation, nothing delivered
    assert [m["type"] for m in messages] == ["error"], messages
    assert error_codes(subprotocol, messages[0]) == ["BAD_REQUEST"]
    assert word in error_text(messages[0])


@pytest.mark.parametrize("subprotocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_subscription_within_the_limits_is_delivered(
    api: Api, parties: Parties, subprotocol: str
) -> None:
    contract = await funded(api, parties, "100.00")
    query = subscription("sequence " + nested_milestones(3))

    async with websocket(api.app, subprotocol, parties.client.token) as session:
        await session.send(subscribe(subprotocol, "1", query, {"id": contract["id"]}))
        first = await session.receive()
        while first is not None and first.get("id") != "1":  # graphql-ws keep-alives
            first = await session.receive()

    assert first is not None
    assert first["type"] in ("next", "data"), first
    assert "errors" not in first["payload"], first
    assert first["payload"]["data"]["contractEvents"]["sequence"] == 1


QUERIES_REFUSED = {
    "100x100 connections": (
        "query { contracts(first: 100) { edges { node { "
        "events(first: 100) { edges { node { contract { events(first: 100) { totalCount } } } } }"
        " } } } }",
        "cost",
    ),
    "300 aliases": (
        "query { " + " ".join(f"a{n}: __typename" for n in range(300)) + " }",
        "aliases",
    ),
    "depth 20": (
        "query($id: ID!) { contract(id: $id) { " + nested_milestones(19, "milestones") + " } }",
        "depth",
    ),
}


@pytest.mark.parametrize("subprotocol", [TRANSPORT_WS, LEGACY_WS])
@pytest.mark.parametrize("case", QUERIES_REFUSED)
async def test_a_query_over_the_limits_is_refused(
    api: Api, parties: Parties, subprotocol: str, case: str
) -> None:
    contract = await funded(api, parties, "100.00")
    query, word = QUERIES_REFUSED[case]

    async with websocket(api.app, subprotocol, parties.client.token) as session:
        messages = await refused_on(session, subprotocol, query, {"id": contract["id"]})

    assert [m["type"] for m in messages] == ["error"], messages
    assert error_codes(subprotocol, messages[0]) == ["BAD_REQUEST"]
    assert word in error_text(messages[0])
