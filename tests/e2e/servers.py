"""Helpers of the end-to-end subscription tests: server processes with chosen settings, GraphQL
over HTTP with httpx, subscriptions through gql's WebsocketsTransport, and raw WebSockets.

Servers are started the way `live_server` starts its one (`python -m app serve` in a temporary
working directory), but with the environment each test needs (CORS_ORIGINS, a PostgreSQL
DATABASE_URL shared by two processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin, Subprotocol

from tests.e2e.conftest import _free_port, _stop, _wait_healthy

TIMEOUT = 10.0

TRANSPORT_WS = WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL  # "graphql-transport-ws"
LEGACY_WS = WebsocketsTransport.APOLLO_SUBPROTOCOL  # "graphql-ws", the legacy protocol
SUBPROTOCOLS = (TRANSPORT_WS, LEGACY_WS)

CONTRACT_EVENTS = """
subscription($id: ID!, $after: Int) {
  contractEvents(contractId: $id, afterSequence: $after) { sequence type amount { amount } }
}
"""

VIEWER = "query { viewer { id name } }"
LOGIN = """
mutation($input: LoginInput!) { login(input: $input) { token userErrors { code message } } }
"""
CREATE_CONTRACT = """
mutation($input: CreateContractInput!) {
  createContract(input: $input) {
    contract { id milestones { id } }
    userErrors { code message field }
  }
}
"""
ACCEPT_CONTRACT = """
mutation($input: AcceptContractInput!) {
  acceptContract(input: $input) { contract { id } userErrors { code message } }
}
"""
FUND_MILESTONE = """
mutation($input: FundMilestoneInput!) {
  fundMilestone(input: $input) { milestone { id } userErrors { code message } }
}
"""
PAY_BONUS = """
mutation($input: PayBonusInput!) { payBonus(input: $input) { userErrors { code message } } }
"""


# --- server processes ------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    host: str
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/graphql"

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return f"--- {self.name} ---\n" + "\n".join(text.splitlines()[-lines:])


def start_server(
    workdir: Path, env: dict[str, str], name: str = "server", port: int | None = None
) -> Server:
    """Start `python -m app serve` on a free port (or `port`: a restart where clients expect
    it); `wait_ready` waits for it. The log of a restart goes on after the earlier one's."""
    host, port = "127.0.0.1", port or _free_port()
    log = workdir / f"{name}.log"
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--host", host, "--port", str(port)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Server(name=name, process=process, host=host, port=port, log=log)


def wait_ready(server: Server) -> None:
    _wait_healthy(server.process, server.base_url, server.log)


@contextlib.contextmanager
def running(*servers: Server, wait: bool = True) -> Iterator[tuple[Server, ...]]:
    """Wait for every server (unless told not to); stop them all at the end, and show their
    logs if the block failed."""
    try:
        if wait:
            for server in servers:
                wait_ready(server)
        yield servers
    except BaseException:
        for server in servers:
            print(server.log_tail())
        raise
    finally:
        for server in servers:
            _stop(server.process)


def run_cli(workdir: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"python -m app {' '.join(args)} failed ({done.returncode}):\n"
            f"{done.stdout}\n{done.stderr}"
        )
    return done.stdout


# --- GraphQL over HTTP -----------------------------------------------------------------------


class Http:
    """GraphQL over HTTP to one server."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def ok(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        body = await self.raw(query, variables, token)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        for payload in data.values():
            if isinstance(payload, dict) and "userErrors" in payload:
                assert payload["userErrors"] == [], payload["userErrors"]
        return data

    async def mutate(self, query: str, token: str | None, **fields: Any) -> dict[str, Any]:
        data = await self.ok(query, {"input": fields}, token)
        payload: dict[str, Any] = next(iter(data.values()))
        return payload


@contextlib.asynccontextmanager
async def http(server: Server) -> AsyncIterator[Http]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT) as client:
        yield Http(client)


@dataclass(frozen=True)
class Contract:
    id: str
    milestone_ids: list[str]


async def active_contract(api: Http, client_token: str, freelancer_token: str) -> Contract:
    """A contract offered by the client and accepted by the freelancer: events 1 and 2."""
    freelancer = (await api.ok(VIEWER, token=freelancer_token))["viewer"]
    created = await api.mutate(
        CREATE_CONTRACT,
        client_token,
        freelancerId=freelancer["id"],
        title="Subscriptions end to end",
        milestones=[{"title": "One", "amount": "100.00"}, {"title": "Two", "amount": "50.00"}],
    )
    contract = created["contract"]
    await api.mutate(ACCEPT_CONTRACT, freelancer_token, contractId=contract["id"])
    return Contract(id=contract["id"], milestone_ids=[m["id"] for m in contract["milestones"]])


async def pay_bonus(api: Http, client_token: str, contract_id: str, amount: str = "1.00") -> None:
    await api.mutate(PAY_BONUS, client_token, contractId=contract_id, amount=amount)


# --- subscriptions through gql ---------------------------------------------------------------


class Subscription:
    """A gql subscription read in the background; its results queue up as they arrive."""

    def __init__(
        self,
        url: str,
        token: str | None,
        query: str,
        variables: dict[str, Any],
        subprotocol: str = TRANSPORT_WS,
    ) -> None:
        self.transport = WebsocketsTransport(
            url=url,
            init_payload={"Authorization": f"Bearer {token}"} if token is not None else {},
            subprotocols=[subprotocol],
            connect_timeout=TIMEOUT,
            ack_timeout=TIMEOUT,
        )
        self.client = Client(transport=self.transport)
        self.query = gql(query)
        self.variables = variables
        self.queue: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Subscription:
        session = await self.client.connect_async()
        self.task = asyncio.create_task(self._pump(session))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
            self.task = None
        with contextlib.suppress(Exception):
            await self.client.close_async()

    async def _pump(self, session: Any) -> None:
        try:
            async for result in session.subscribe(self.query, variable_values=self.variables):
                await self.queue.put(result)
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            await self.queue.put(error)

    @property
    def subprotocol(self) -> str:
        return str(self.transport.subprotocol)

    async def next(self, within: float = TIMEOUT) -> dict[str, Any]:
        item = await asyncio.wait_for(self.queue.get(), within)
        if isinstance(item, BaseException):
            raise AssertionError(f"the subscription failed: {item!r}") from item
        return item

    async def events(self, count: int, within: float = TIMEOUT) -> list[dict[str, Any]]:
        """The next `count` contractEvents."""
        return [(await self.next(within))["contractEvents"] for _ in range(count)]

    async def quiet(self, seconds: float = 0.5) -> None:
        """Nothing arrives for `seconds`. Only for where no event can reach the subscription
        (a process that cannot hear notices); elsewhere `nothing_arrives_before_a_bonus`."""
        await asyncio.sleep(seconds)
        assert self.queue.empty(), [self.queue.get_nowait() for _ in range(self.queue.qsize())]


def contract_events(
    server: Server,
    token: str | None,
    contract_id: str,
    after: int | None,
    subprotocol: str = TRANSPORT_WS,
) -> Subscription:
    return Subscription(
        server.ws_url, token, CONTRACT_EVENTS, {"id": contract_id, "after": after}, subprotocol
    )


def sequences(events: list[dict[str, Any]]) -> list[int]:
    return [event["sequence"] for event in events]


async def nothing_arrives_before_a_bonus(
    subscription: Subscription, api: Http, client_token: str, contract_id: str, sequence: int
) -> None:
    """Nothing (more) arrives on a `contractEvents` subscription, shown by a sentinel: a bonus
    paid now is the very next event, numbered `sequence`. The wait ends as soon as the server
    sends it; TIMEOUT only bounds a failing one."""
    await pay_bonus(api, client_token, contract_id)
    [event] = await subscription.events(1)
    assert (event["sequence"], event["type"]) == (sequence, "BONUS_PAID"), event


# --- raw WebSockets --------------------------------------------------------------------------


def raw_socket(
    server: Server,
    subprotocol: str,
    *,
    origin: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:  # websockets' connect(), used as `async with`
    return connect(
        server.ws_url,
        subprotocols=[Subprotocol(subprotocol)],
        origin=Origin(origin) if origin is not None else None,
        additional_headers=headers,
        open_timeout=TIMEOUT,
        ping_interval=None,
    )


async def send(socket: ClientConnection, message: dict[str, Any]) -> None:
    await socket.send(json.dumps(message))


async def receive(socket: ClientConnection, within: float = TIMEOUT) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), within))
    return message
