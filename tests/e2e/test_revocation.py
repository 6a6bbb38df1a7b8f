"""Revocation across processes (issue 7 §12): two `serve` processes on one PostgreSQL database;
a token revoked over HTTP on B ends the sockets open with it on A (UNAUTHENTICATED, then 4403),
on both subprotocols, sessions included, and an operation sent on A after the revocation runs
nothing. No event bus is involved: A learns of it from the database."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.e2e.postgres import SHARED_SERVER, fresh_database, prepare, server_env, tokens
from tests.e2e.servers import (
    LEGACY_WS,
    TRANSPORT_WS,
    Server,
    http,
    raw_socket,
    receive,
    running,
    send,
    start_server,
    wait_ready,
)

pytestmark = [pytest.mark.e2e, pytest.mark.own_database("postgres")]

CREATE_API_TOKEN = """
mutation($name: String!) {
  createApiToken(input: {name: $name, scopes: [READ, WRITE]}) { token apiToken { id } }
}
"""
REVOKE = """
mutation($id: ID!) { revokeApiToken(input: {id: $id}) { userErrors { code } } }
"""
TOKENS = "query { apiTokens { id name isSession } }"
WATCH = "subscription { milestoneUpdated { id } }"


@dataclass
class Pair:
    a: Server
    b: Server
    carol: str  # a session of Carol's, opened on B


@pytest.fixture(scope="module")
async def pair(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pair]:
    async with fresh_database(SHARED_SERVER, "revocation") as (url, _admin):
        workdir: Path = tmp_path_factory.mktemp("e2e-revocation")
        env = server_env(workdir, url)
        await prepare(workdir, env)
        a, b = start_server(workdir, env, "A"), start_server(workdir, env, "B")
        with running(a, b, wait=False):
            for server in (a, b):
                wait_ready(server)
            carol, _frank = await tokens(b)
            yield Pair(a, b, carol)


async def _new_token(pair: Pair, name: str) -> tuple[str, str]:
    """A new API token of Carol's, made on B: its secret and its id."""
    async with http(pair.b) as api:
        made = (await api.ok(CREATE_API_TOKEN, {"name": name}, pair.carol))["createApiToken"]
    return made["token"], made["apiToken"]["id"]


async def _revoke_on_b(pair: Pair, token_id: str) -> None:
    async with http(pair.b) as api:
        payload = (await api.ok(REVOKE, {"id": token_id}, pair.carol))["revokeApiToken"]
    assert payload["userErrors"] == []


async def _acknowledged(socket: ClientConnection, token: str) -> None:
    await send(socket, {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    assert (await receive(socket))["type"] == "connection_ack"


async def _until_closed(socket: ClientConnection) -> tuple[list[dict[str, Any]], int | None]:
    """Every message up to the close, and the close code."""
    messages = []
    try:
        while True:
            message = await receive(socket)
            if message["type"] != "ka":
                messages.append(message)
    except ConnectionClosed as closed:
        return messages, closed.rcvd.code if closed.rcvd else None


def _codes(message: dict[str, Any]) -> list[str]:
    payload = message["payload"]
    errors = payload.get("errors", [payload]) if isinstance(payload, dict) else payload
    return [e["extensions"]["code"] for e in errors]


@pytest.mark.parametrize("subprotocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_token_revoked_on_one_process_ends_its_sockets_on_the_other(
    pair: Pair, subprotocol: str
) -> None:
    # given a socket on A, of a token, with a live subscription
    secret, token_id = await _new_token(pair, f"phone-{subprotocol}")
    start = "subscribe" if subprotocol == TRANSPORT_WS else "start"
    async with raw_socket(pair.a, subprotocol) as socket:
        await _acknowledged(socket, secret)
        await send(socket, {"id": "w", "type": start, "payload": {"query": WATCH}})
        # when B revokes the token
        revoked_at = time.monotonic()
        await _revoke_on_b(pair, token_id)
        messages, code = await _until_closed(socket)
        print(f"{subprotocol}: closed {time.monotonic() - revoked_at:.2f} s after the revocation")
    # then A ends the subscription with UNAUTHENTICATED and closes the socket with 4403
    assert [m["type"] for m in messages] in (["next", "complete"], ["data", "complete"])
    assert _codes(messages[0]) == ["UNAUTHENTICATED"]
    assert code == 4403


async def test_an_ended_session_ends_its_sockets_on_the_other_process(pair: Pair) -> None:
    # given a second session of Carol's, and a socket on A with it
    async with http(pair.b) as api:
        listed_before = {t["id"] for t in (await api.ok(TOKENS, token=pair.carol))["apiTokens"]}
    session, _ = await tokens(pair.b)
    async with http(pair.b) as api:
        listed = (await api.ok(TOKENS, token=pair.carol))["apiTokens"]
    [new] = [t for t in listed if t["id"] not in listed_before]
    assert new["isSession"] is True
    async with raw_socket(pair.a, TRANSPORT_WS) as socket:
        await _acknowledged(socket, session)
        await send(socket, {"id": "w", "type": "subscribe", "payload": {"query": WATCH}})
        # when the session is ended from B
        await _revoke_on_b(pair, new["id"])
        messages, code = await _until_closed(socket)
    # then
    assert _codes(messages[0]) == ["UNAUTHENTICATED"]
    assert code == 4403


async def test_a_socket_of_a_revoked_token_cannot_mint_a_new_one(pair: Pair) -> None:
    # given a socket on A, whose token B then revokes
    secret, token_id = await _new_token(pair, "doomed")
    async with raw_socket(pair.a, TRANSPORT_WS) as socket:
        await _acknowledged(socket, secret)
        await _revoke_on_b(pair, token_id)
        # when the socket asks for a new token straight away
        operation = {"query": CREATE_API_TOKEN, "variables": {"name": "minted"}}
        with contextlib.suppress(ConnectionClosed):  # unless the watcher was quicker
            await send(socket, {"id": "m", "type": "subscribe", "payload": operation})
        messages, code = await _until_closed(socket)
    # then no token was minted, and the socket is closed
    assert code == 4403
    assert all(m["type"] != "next" or m["payload"].get("errors") for m in messages), messages
    async with http(pair.b) as api:
        names = [t["name"] for t in (await api.ok(TOKENS, token=pair.carol))["apiTokens"]]
    assert "minted" not in names


def test_serve_says_where_the_rate_limits_are_counted(pair: Pair) -> None:
    assert "Rate limits are counted per process" in pair.a.log.read_text(encoding="utf-8")
