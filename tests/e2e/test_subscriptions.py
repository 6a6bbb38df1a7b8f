"""Subscriptions end to end (§2, §4, §5, §6.19 to §6.21, §6.38): real `python -m app serve`
processes, gql's WebsocketsTransport on both subprotocols, raw WebSockets for what gql hides
(close codes, keep-alive frames, the Origin header), and two processes on one PostgreSQL
database, one of which loses its LISTEN connection mid-stream.

The PostgreSQL tests need a server at `E2E_POSTGRES_URL` (default
`postgres://postgres@127.0.0.1:5432/escrow_e2e_subs_<pid>`; the database is dropped and created
afresh). Without one they are skipped, except in CI (`CI=true`), where they fail.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from gql.transport.exceptions import (
    TransportClosed,
    TransportConnectionFailed,
    TransportServerError,
)
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.events.bus import APPLICATION_NAME
from app.graphql.ids import encode_id
from tests.e2e.conftest import _seed, _server_env
from tests.e2e.servers import (
    FUND_MILESTONE,
    LEGACY_WS,
    LOGIN,
    SUBPROTOCOLS,
    TRANSPORT_WS,
    Server,
    active_contract,
    contract_events,
    http,
    nothing_arrives_before_a_bonus,
    pay_bonus,
    raw_socket,
    receive,
    run_cli,
    running,
    send,
    sequences,
    start_server,
    wait_ready,
)

# The `demo` tests run on a SQLite server of their own, the `pair` tests on a PostgreSQL
# database of their own.
pytestmark = [pytest.mark.e2e, pytest.mark.own_database("sqlite")]
ON_POSTGRES = pytest.mark.own_database("postgres")

ALLOWED_ORIGIN = "https://app.example.com"
PASSWORD = "correct horse battery"


# --- one server on SQLite --------------------------------------------------------------------


@dataclass(frozen=True)
class Demo:
    server: Server
    client_token: str
    freelancer_token: str
    admin_token: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """A server on SQLite with the demo data, allowing one browser origin besides its own."""
    workdir = tmp_path_factory.mktemp("e2e-subscriptions")
    env = _server_env(workdir)
    env["CORS_ORIGINS"] = ALLOWED_ORIGIN
    client, freelancer, admin = _seed(workdir, env)
    with running(start_server(workdir, env)) as (server,):
        yield Demo(server, client, freelancer, admin)


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
async def test_subscribe_then_mutate_over_http_and_receive(demo: Demo, subprotocol: str) -> None:
    async with http(demo.server) as api:
        contract = await active_contract(api, demo.client_token, demo.freelancer_token)
        async with contract_events(
            demo.server, demo.freelancer_token, contract.id, 0, subprotocol
        ) as subscription:
            assert subscription.subprotocol == subprotocol
            replayed = await subscription.events(2)

            await api.mutate(
                FUND_MILESTONE, demo.client_token, milestoneId=contract.milestone_ids[0]
            )
            await pay_bonus(api, demo.client_token, contract.id, "12.34")
            live = await subscription.events(2)

            assert [(e["sequence"], e["type"]) for e in replayed + live] == [
                (1, "CONTRACT_OFFERED"),
                (2, "CONTRACT_ACCEPTED"),
                (3, "MILESTONE_FUNDED"),
                (4, "BONUS_PAID"),
            ]
            assert live[1]["amount"] == {"amount": "12.34"}
            await nothing_arrives_before_a_bonus(
                subscription, api, demo.client_token, contract.id, 5
            )


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
@pytest.mark.parametrize("token", [None, "", "not-a-token", "mse_forged"])
async def test_a_missing_or_bad_token_is_refused_at_connect(
    demo: Demo, subprotocol: str, token: str | None
) -> None:
    async with http(demo.server) as api:
        contract = await active_contract(api, demo.client_token, demo.freelancer_token)
    # connection_init without an Authorization entry, or with one that holds no valid token
    subscription = contract_events(demo.server, token, contract.id, 0, subprotocol)
    try:
        with pytest.raises((TransportServerError, TransportClosed, TransportConnectionFailed)):
            await subscription.client.connect_async()
    finally:
        await subscription.close()


async def test_refusal_on_the_wire_graphql_transport_ws_closes_with_4403(demo: Demo) -> None:
    async with raw_socket(demo.server, TRANSPORT_WS) as socket:
        await send(socket, {"type": "connection_init", "payload": {"Authorization": "Bearer x"}})
        with pytest.raises(ConnectionClosed):
            await receive(socket)
        assert socket.close_code == 4403


async def test_refusal_on_the_wire_legacy_graphql_ws_sends_connection_error(demo: Demo) -> None:
    async with raw_socket(demo.server, LEGACY_WS) as socket:
        await send(socket, {"type": "connection_init", "payload": {}})
        message = await receive(socket)
        assert message["type"] == "connection_error", message
        with pytest.raises(ConnectionClosed):
            await receive(socket)


async def test_a_token_sent_only_as_an_http_header_is_not_enough(demo: Demo) -> None:
    """The token belongs in connection_init (§2); the upgrade request's header is ignored."""
    async with raw_socket(
        demo.server, TRANSPORT_WS, headers={"Authorization": f"Bearer {demo.client_token}"}
    ) as socket:
        await send(socket, {"type": "connection_init", "payload": {}})
        with pytest.raises(ConnectionClosed):
            await receive(socket)
        assert socket.close_code == 4403


async def test_keep_alive_on_the_legacy_protocol_is_a_ka_right_after_the_ack(demo: Demo) -> None:
    """Strawberry sends `ka` at once after `connection_ack`, then every WS_KEEP_ALIVE_INTERVAL
    (15 s here, not waited for; test_sockets.py waits for several at a shorter interval)."""
    async with raw_socket(demo.server, LEGACY_WS) as socket:
        assert socket.subprotocol == LEGACY_WS
        auth = {"Authorization": f"Bearer {demo.client_token}"}
        await send(socket, {"type": "connection_init", "payload": auth})
        assert (await receive(socket))["type"] == "connection_ack"
        assert await receive(socket, within=2) == {"type": "ka"}


async def test_keep_alive_on_graphql_transport_ws_is_ping_and_pong(demo: Demo) -> None:
    """graphql-transport-ws has no `ka`: the server answers a client's `ping` with a `pong` (its
    own pings, every WS_KEEP_ALIVE_INTERVAL, are tested in test_sockets.py)."""
    async with raw_socket(demo.server, TRANSPORT_WS) as socket:
        assert socket.subprotocol == TRANSPORT_WS
        auth = {"Authorization": f"Bearer {demo.client_token}"}
        await send(socket, {"type": "connection_init", "payload": auth})
        assert (await receive(socket))["type"] == "connection_ack"
        await send(socket, {"type": "ping"})
        assert (await receive(socket, within=2))["type"] == "pong"


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
async def test_an_unknown_contract_ends_with_one_not_found_on_the_wire(
    demo: Demo, subprotocol: str
) -> None:
    async with raw_socket(demo.server, subprotocol) as socket:
        auth = {"Authorization": f"Bearer {demo.client_token}"}
        await send(socket, {"type": "connection_init", "payload": auth})
        assert (await receive(socket))["type"] == "connection_ack"
        start = "subscribe" if subprotocol == TRANSPORT_WS else "start"
        unknown = encode_id("Contract", 987_654_321)
        payload = {"query": CONTRACT_EVENTS_QUERY, "variables": {"id": unknown}}
        await send(socket, {"id": "1", "type": start, "payload": payload})
        messages: list[dict[str, Any]] = []
        while len(messages) < 2:
            message = await receive(socket)
            if message["type"] != "ka":  # the legacy protocol's keep-alive
                messages.append(message)

        result, complete = messages
        assert result["type"] == ("next" if subprotocol == TRANSPORT_WS else "data"), result
        assert result["id"] == "1"
        assert result["payload"]["data"] is None
        assert [e["extensions"] for e in result["payload"]["errors"]] == [{"code": "NOT_FOUND"}]
        assert complete == {"id": "1", "type": "complete"}


CONTRACT_EVENTS_QUERY = (
    "subscription($id: ID!) { contractEvents(contractId: $id, afterSequence: 0) { sequence } }"
)


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
async def test_a_browser_origin_not_allowed_is_refused_at_the_handshake(
    demo: Demo, subprotocol: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with raw_socket(demo.server, subprotocol, origin="https://evil.example"):
            pass
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("origin", [ALLOWED_ORIGIN, "same"])
async def test_an_allowed_or_the_same_origin_is_accepted(demo: Demo, origin: str) -> None:
    origin = demo.server.base_url if origin == "same" else origin
    async with raw_socket(demo.server, TRANSPORT_WS, origin=origin) as socket:
        assert socket.subprotocol == TRANSPORT_WS
        auth = {"Authorization": f"Bearer {demo.client_token}"}
        await send(socket, {"type": "connection_init", "payload": auth})
        assert (await receive(socket))["type"] == "connection_ack"


# --- two servers on one PostgreSQL database --------------------------------------------------


POSTGRES_URL = os.environ.get(
    "E2E_POSTGRES_URL", f"postgres://postgres@127.0.0.1:5432/escrow_e2e_subs_{os.getpid()}"
)


@dataclass(frozen=True)
class Pair:
    a: Server
    b: Server
    client_token: str
    freelancer_token: str
    admin: asyncpg.Connection  # to the `postgres` database, for pg_stat_activity

    async def listener_backends(self, server: Server) -> list[int]:
        """The backend pids of the server's LISTEN connection (see app.events.bus)."""
        rows = await self.admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
            f"{APPLICATION_NAME}:{server.pid}",
        )
        return [row["pid"] for row in rows]

    async def kill_listener(self, server: Server) -> int:
        pids = await self.listener_backends(server)
        assert len(pids) == 1, pids
        killed = await self.admin.fetchval("SELECT pg_terminate_backend($1)", pids[0])
        assert killed is True
        return pids[0]


def _dsn(url: str, database: str) -> str:
    base = url.rsplit("/", 1)[0]
    return "postgresql://" + base.split("://", 1)[1] + "/" + database


async def _connect_or_skip(url: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(_dsn(url, "postgres"), timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        reason = f"PostgreSQL is unreachable at {url.rsplit('/', 1)[0]}: {error!r}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the PostgreSQL end-to-end tests", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
async def pair(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pair]:
    """Two `serve` processes (A and B) on one fresh PostgreSQL database, with two users."""
    admin = await _connect_or_skip(POSTGRES_URL)
    name = POSTGRES_URL.rsplit("/", 1)[1]
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        workdir: Path = tmp_path_factory.mktemp("e2e-postgres")
        env = _server_env(workdir)
        env["DATABASE_URL"] = POSTGRES_URL
        await asyncio.to_thread(run_cli, workdir, env, "migrate")
        for email, who in (("carol@example.com", "Carol"), ("frank@example.com", "Frank")):
            await asyncio.to_thread(
                run_cli, workdir, env, "create-user", "--email", email, "--name", who,
                "--password", PASSWORD,
            )  # fmt: skip
        a, b = start_server(workdir, env, "A"), start_server(workdir, env, "B")
        with running(a, b, wait=False):
            await asyncio.gather(*(asyncio.to_thread(wait_ready, s) for s in (a, b)))
            async with http(b) as api:
                tokens = [
                    (await api.mutate(LOGIN, None, email=email, password=PASSWORD))["token"]
                    for email in ("carol@example.com", "frank@example.com")
                ]
            yield Pair(a, b, tokens[0], tokens[1], admin)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@ON_POSTGRES
async def test_a_subscriber_on_one_process_sees_mutations_made_on_another(pair: Pair) -> None:
    async with http(pair.b) as on_b:
        contract = await active_contract(on_b, pair.client_token, pair.freelancer_token)
        async with contract_events(pair.a, pair.freelancer_token, contract.id, 0) as subscription:
            assert sequences(await subscription.events(2)) == [1, 2]

            await on_b.mutate(
                FUND_MILESTONE, pair.client_token, milestoneId=contract.milestone_ids[0]
            )
            for _ in range(3):
                await pay_bonus(on_b, pair.client_token, contract.id)

            live = await subscription.events(4)
            assert [(e["sequence"], e["type"]) for e in live] == [
                (3, "MILESTONE_FUNDED"),
                (4, "BONUS_PAID"),
                (5, "BONUS_PAID"),
                (6, "BONUS_PAID"),
            ]
            await nothing_arrives_before_a_bonus(
                subscription, on_b, pair.client_token, contract.id, 7
            )


@ON_POSTGRES
async def test_a_lost_listen_connection_loses_no_event_and_repeats_none(pair: Pair) -> None:
    # given a subscriber on A, and B committing an event every 20 ms
    commits = 60
    async with http(pair.b) as on_b:
        contract = await active_contract(on_b, pair.client_token, pair.freelancer_token)
        async with contract_events(pair.a, pair.client_token, contract.id, 2) as subscription:

            async def keep_committing() -> None:
                for _ in range(commits):
                    await pay_bonus(on_b, pair.client_token, contract.id)
                    await asyncio.sleep(0.02)

            committing = asyncio.create_task(keep_committing())
            try:
                received = await subscription.events(5)

                # when A's LISTEN connection is killed mid-stream, twice
                first = await pair.kill_listener(pair.a)
                received += await subscription.events(5)
                await _until_listening_again(pair, pair.a, first)
                second = await pair.kill_listener(pair.a)
                await committing
            finally:
                committing.cancel()

            # then every event arrives on A exactly once, in order
            received += await subscription.events(commits - len(received))
            assert sequences(received) == list(range(3, 3 + commits))
            await _until_listening_again(pair, pair.a, second)
            await nothing_arrives_before_a_bonus(
                subscription, on_b, pair.client_token, contract.id, 3 + commits
            )
    assert "LISTEN connection lost" in pair.a.log.read_text()


@ON_POSTGRES
async def test_events_committed_while_a_process_is_deaf_arrive_when_it_listens_again(
    pair: Pair,
) -> None:
    """No later notice comes to wake the subscriber: only the bus's resync after it has
    reconnected can deliver what was committed while A had no LISTEN connection."""
    name = POSTGRES_URL.rsplit("/", 1)[1]
    async with http(pair.b) as on_b:
        contract = await active_contract(on_b, pair.client_token, pair.freelancer_token)
        async with contract_events(pair.a, pair.client_token, contract.id, 2) as subscription:
            await pay_bonus(on_b, pair.client_token, contract.id)
            assert sequences(await subscription.events(1)) == [3]

            # given A without a LISTEN connection, unable to open a new one for now
            await pair.admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            try:
                refusals = _log_count(pair.a, LISTEN_REFUSED)
                killed = await pair.kill_listener(pair.a)
                await _until_logged(pair.a, LISTEN_REFUSED, refusals + 1)  # A knows it is deaf
                # when B commits three events meanwhile (on its pool's open connection)
                for _ in range(3):
                    await pay_bonus(on_b, pair.client_token, contract.id)
                # A is deaf: no event can reach the subscriber now, so only a wait can show
                await subscription.quiet(0.5)
            finally:
                await pair.admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

            # then once A listens again, the three arrive, with nothing committed after them
            assert sequences(await subscription.events(3)) == [4, 5, 6]
            await _until_listening_again(pair, pair.a, killed)
            await nothing_arrives_before_a_bonus(
                subscription, on_b, pair.client_token, contract.id, 7
            )


LISTEN_REFUSED = "LISTEN connection failed"  # what the bus logs when it cannot reconnect


def _log_count(server: Server, line: str) -> int:
    return server.log.read_text(errors="replace").count(line)


async def _until_logged(server: Server, line: str, count: int) -> None:
    """Until the server has logged `line` `count` times (what it says once it has acted)."""
    for _ in range(100):
        if _log_count(server, line) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{server.name} did not log {line!r} {count} times")


async def _until_listening_again(pair: Pair, server: Server, old: int) -> None:
    for _ in range(100):
        pids = await pair.listener_backends(server)
        if pids and old not in pids:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{server.name} did not LISTEN again")


@ON_POSTGRES
async def test_reconnecting_after_the_last_sequence_seen_gets_exactly_the_missed_events(
    pair: Pair,
) -> None:
    async with http(pair.b) as on_b:
        contract = await active_contract(on_b, pair.client_token, pair.freelancer_token)

        # given a client that saw events up to 5, then went away
        async with contract_events(pair.a, pair.client_token, contract.id, 2) as subscription:
            for _ in range(3):
                await pay_bonus(on_b, pair.client_token, contract.id)
            seen = await subscription.events(3)
        last = seen[-1]["sequence"]
        assert last == 5

        # when events commit while it is away, and it comes back with afterSequence = 5
        for _ in range(4):
            await pay_bonus(on_b, pair.client_token, contract.id)
        async with contract_events(pair.a, pair.client_token, contract.id, last) as again:
            missed = await again.events(4)
            await pay_bonus(on_b, pair.client_token, contract.id)
            live = await again.events(1)

    # then it gets exactly the missed events, then the live one as the very next
    assert sequences(missed) == [6, 7, 8, 9]
    assert sequences(live) == [10]
