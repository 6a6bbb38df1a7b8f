"""What a real `serve` process writes to its log about a request: the client's address is the
socket's unless FORWARDED_ALLOW_IPS names the proxy it came through, and no query string's
values (a password in a GET `login`, say) are ever written."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from tests.e2e.conftest import _server_env
from tests.e2e.servers import TRANSPORT_WS, Server, running, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.own_database("sqlite")]

SECRET = "hunter2-in-the-query"
LOGIN_BY_GET = (
    'mutation { login(input: {email: "carol@example.com", password: "' + SECRET + '"}) { token } }'
)
PROXY_CLIENT = "203.0.113.7"


def _server(tmp_path_factory: pytest.TempPathFactory, name: str, **settings: str) -> Server:
    workdir: Path = tmp_path_factory.mktemp(name)
    env = _server_env(workdir)
    env.pop("FORWARDED_ALLOW_IPS", None)
    env.update(settings)
    return start_server(workdir, env, name)


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(_server(tmp_path_factory, "direct")) as (server,):
        yield server


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(_server(tmp_path_factory, "proxied", FORWARDED_ALLOW_IPS="127.0.0.1")) as (s,):
        yield s


def _get(server: Server, params: dict[str, str], headers: dict[str, str] | None = None) -> int:
    response = httpx.get(f"{server.base_url}/graphql", params=params, headers=headers, timeout=10)
    return response.status_code


def _graphql_lines(server: Server, status: int) -> list[str]:
    """The access-log lines of GET /graphql answered with `status` (uvicorn may write one a
    moment after answering)."""
    marker = f'HTTP/1.1" {status}'
    for _ in range(50):
        text = server.log.read_text(errors="replace")
        lines = [line for line in text.splitlines() if '"GET /graphql?' in line and marker in line]
        if lines:
            return lines
        time.sleep(0.1)
    raise AssertionError(f"no log line has {marker!r}:\n{server.log_tail()}")


def test_a_refused_get_login_leaves_no_password_in_the_log(direct: Server) -> None:
    # when a login mutation is sent by GET (refused: 405), and a query with variables
    assert _get(direct, {"query": LOGIN_BY_GET}) == 405
    variables = {"query": "query($x: ID!) { node(id: $x) { id } }", "variables": '{"x": "1"}'}
    assert _get(direct, variables) == 200
    # then the log shows both requests, and neither the password nor any other query value
    assert [line.split('"')[1] for line in _graphql_lines(direct, 405)] == [
        "GET /graphql?… HTTP/1.1"
    ]
    assert _graphql_lines(direct, 200)
    text = direct.log.read_text(errors="replace")
    assert SECRET not in text
    assert "node(id" not in text


async def test_a_websocket_url_with_a_query_string_leaves_no_value_in_the_log(
    direct: Server,
) -> None:
    # when a WebSocket is opened on a URL with a query string
    url = f"{direct.ws_url}?token={SECRET}"
    async with connect(url, subprotocols=[Subprotocol(TRANSPORT_WS)], open_timeout=10) as socket:
        await socket.close()
    # then its "accepted" line has the path but not the value
    for _ in range(50):
        text = direct.log.read_text(errors="replace")
        if "[accepted]" in text:
            break
        await asyncio.sleep(0.1)
    assert '"WebSocket /graphql?…" [accepted]' in text
    assert SECRET not in text


def test_without_a_trusted_proxy_the_client_is_the_socket_peer(direct: Server) -> None:
    # when a client claims another address in X-Forwarded-For
    headers = {"X-Forwarded-For": PROXY_CLIENT}
    assert _get(direct, {"query": "{ __typename }"}, headers) == 200
    # then the log names the socket's peer
    lines = _graphql_lines(direct, 200)
    assert all(line.split()[1].startswith("127.0.0.1:") for line in lines), lines
    assert PROXY_CLIENT not in direct.log.read_text(errors="replace")


def test_behind_a_named_proxy_the_client_is_the_forwarded_address(behind_proxy: Server) -> None:
    # when the trusted proxy (127.0.0.1) forwards a client's request
    headers = {"X-Forwarded-For": PROXY_CLIENT}
    assert _get(behind_proxy, {"query": "{ __typename }"}, headers) == 200
    # then the log names the client the proxy saw
    [line] = _graphql_lines(behind_proxy, 200)
    assert line.split()[1].startswith(f"{PROXY_CLIENT}:"), line
