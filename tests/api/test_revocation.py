"""Revocation reaches open sockets (issue 7 §12), in-process on both subprotocols: a token
revoked over HTTP, or a session that expires, ends every subscription of the sockets open with
it with UNAUTHENTICATED and closes them with 4403; and every operation arriving on a socket
re-checks its token, so a revoked one runs nothing (no new token minted, no bonus paid)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from app.db import models
from app.services import token_watch
from tests.api.client import Api
from tests.api.operations import create_api_token, login, revoke_api_token
from tests.api.people import Parties
from tests.api.scenarios import active
from tests.api.websocket import WebSocketSession, websocket
from tests.support import FrozenClock

SUBPROTOCOLS = ["graphql-transport-ws", "graphql-ws"]
CONTRACT_EVENTS = """
subscription($id: ID!) { contractEvents(contractId: $id, afterSequence: 0) { sequence } }
"""
CREATE_API_TOKEN = """
mutation { createApiToken(input: {name: "minted", scopes: [READ, WRITE]}) { token } }
"""
PAY_BONUS = """
mutation($id: ID!) { payBonus(input: {contractId: $id, amount: "5.00"}) { userErrors { code } } }
"""


def _start(subprotocol: str) -> str:
    return "subscribe" if subprotocol == "graphql-transport-ws" else "start"


def _error_codes(message: dict[str, Any]) -> list[str]:
    payload = message["payload"]
    errors = payload.get("errors", [payload]) if isinstance(payload, dict) else payload
    return [e["extensions"]["code"] for e in errors]


async def _follow_events(ws: WebSocketSession, subprotocol: str, contract_id: str) -> None:
    """Subscribe to the contract's events, and read the two stored ones: it is running."""
    operation = {"query": CONTRACT_EVENTS, "variables": {"id": contract_id}}
    await ws.send({"id": "events", "type": _start(subprotocol), "payload": operation})
    received: list[int] = []
    while len(received) < 2:
        message = await ws.receive()
        assert message is not None
        if message.get("id") == "events":
            assert message["type"] in ("next", "data"), message
            received.append(message["payload"]["data"]["contractEvents"]["sequence"])
    assert received == [1, 2]


async def _ended_unauthenticated(ws: WebSocketSession) -> None:
    ending = await ws.messages_for("events")
    assert [m["type"] for m in ending] in (["next", "complete"], ["data", "complete"])
    assert _error_codes(ending[0]) == ["UNAUTHENTICATED"]
    assert await ws.receive() is None
    assert ws.close_code == 4403


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
async def test_a_token_revoked_over_http_ends_the_sockets_open_with_it(
    api: Api, parties: Parties, subprotocol: str
) -> None:
    # given a socket of an API token following a contract, and one of another token
    contract = await active(api, parties, "100.00")
    issued = await create_api_token(api, parties.client.token, "phone", ["READ", "WRITE"])
    async with (
        websocket(api.app, subprotocol, issued["token"]) as doomed,
        websocket(api.app, subprotocol, parties.client.token) as other,
    ):
        await _follow_events(doomed, subprotocol, contract["id"])
        await _follow_events(other, subprotocol, contract["id"])
        # when the token is revoked over HTTP
        await revoke_api_token(api, parties.client.token, issued["apiToken"]["id"])
        # then its subscription ends with UNAUTHENTICATED and its socket closes with 4403
        await _ended_unauthenticated(doomed)
        assert other.close_code is None
        assert other.outbound.empty()


async def test_an_expired_session_ends_the_sockets_open_with_it(
    api: Api, parties: Parties, clock: FrozenClock
) -> None:
    # given a socket of a session (from login) following a contract
    contract = await active(api, parties, "100.00")
    session = (await login(api, parties.client.email, "correct horse battery"))["token"]
    async with websocket(api.app, "graphql-transport-ws", session) as ws:
        await _follow_events(ws, "graphql-transport-ws", contract["id"])
        # when the session's 30 days are over
        clock.advance(timedelta(days=30))
        # then
        await _ended_unauthenticated(ws)


@pytest.fixture
def no_watcher() -> Iterator[None]:
    """A watch that never sweeps on its own: what is refused is refused by the operation's own
    check."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(token_watch, "INTERVAL", 3600.0)
        yield


@pytest.mark.parametrize("mutation", ["createApiToken", "payBonus"])
async def test_an_operation_on_a_socket_whose_token_was_revoked_runs_nothing(
    api: Api, parties: Parties, no_watcher: None, mutation: str
) -> None:
    # given a socket of an API token, which is then revoked
    contract = await active(api, parties, "100.00")
    issued = await create_api_token(api, parties.client.token, "phone", ["READ", "WRITE"])
    async with websocket(api.app, "graphql-transport-ws", issued["token"]) as ws:
        await revoke_api_token(api, parties.client.token, issued["apiToken"]["id"])
        tokens_before = await models.ApiToken.all().count()
        events_before = await models.ContractEvent.all().count()
        # when the socket sends a mutation
        query = CREATE_API_TOKEN if mutation == "createApiToken" else PAY_BONUS
        operation = {"query": query, "variables": {"id": contract["id"]}}
        await ws.send({"id": "m", "type": "subscribe", "payload": operation})
        # then it is refused, the socket closes, and nothing was written
        [refused] = await ws.messages_for("m")
        assert refused["type"] == "error"
        assert _error_codes(refused) == ["UNAUTHENTICATED"]
        assert await ws.receive() is None
        assert ws.close_code == 4403
    assert await models.ApiToken.all().count() == tokens_before
    assert await models.ContractEvent.all().count() == events_before


async def test_a_subscription_started_on_a_revoked_legacy_socket_is_refused(
    api: Api, parties: Parties, no_watcher: None
) -> None:
    contract = await active(api, parties, "100.00")
    issued = await create_api_token(api, parties.client.token, "phone", ["READ", "WRITE"])
    async with websocket(api.app, "graphql-ws", issued["token"]) as ws:
        await revoke_api_token(api, parties.client.token, issued["apiToken"]["id"])
        operation = {"query": CONTRACT_EVENTS, "variables": {"id": contract["id"]}}
        await ws.send({"id": "events", "type": "start", "payload": operation})
        [refused] = await ws.messages_for("events")
        assert refused["type"] == "error"
        assert _error_codes(refused) == ["UNAUTHENTICATED"]
        assert await ws.receive() is None
        assert ws.close_code == 4403
