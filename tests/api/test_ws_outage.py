"""A WebSocket that connects while the database cannot be reached is refused cleanly: the
client is told the service is unavailable, and no traceback is logged (issue 7, faults)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from app.graphql import context
from tests.api.client import Api
from tests.api.people import Parties
from tests.api.websocket import TIMEOUT, WebSocketSession


async def _unreachable(*args: object) -> None:
    raise ConnectionRefusedError("[Errno 111] Connect call failed ('127.0.0.1', 5432)")


@pytest.mark.parametrize("subprotocol", ["graphql-transport-ws", "graphql-ws"])
async def test_a_socket_opened_during_a_database_outage_is_refused_cleanly(
    api: Api,
    parties: Parties,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    subprotocol: str,
) -> None:
    # given a database that cannot be reached
    monkeypatch.setattr(context, "authenticate", _unreachable)
    session = WebSocketSession(api.app, subprotocol)
    task = asyncio.create_task(api.app(session.scope(), session._receive, session._send))
    # when a client connects with a token
    await session.inbound.put({"type": "websocket.connect"})
    accept = await asyncio.wait_for(session.outbound.get(), TIMEOUT)
    assert accept["type"] == "websocket.accept"
    await session.send(
        {"type": "connection_init", "payload": {"Authorization": f"Bearer {parties.client.token}"}}
    )
    # then it is refused, told why on the legacy protocol, and the server logs no traceback
    answer = await session.receive()
    if subprotocol == "graphql-ws":
        assert answer is not None and answer["type"] == "connection_error", answer
        assert "unavailable" in answer["payload"]["message"]
        answer = await session.receive()
    # (the legacy protocol closes every refused socket with 1011, a bad token's too)
    assert answer is None
    assert session.close_code == (1011 if subprotocol == "graphql-ws" else 4403)
    await asyncio.wait_for(task, TIMEOUT)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
