"""Faults with real server processes on PostgreSQL: a server killed with SIGKILL under load, the
database server stopped and started, and the pool's connections terminated mid-mutation. After
each, the books of every contract balance (tests/services/books.py, run by
tests/e2e/books_check.py), every contract's events are numbered without a gap, and no retried
idempotency key moved money twice.

The kill and terminate tests use a database of their own on the shared server; the stop/start
test a private throwaway cluster (tests/e2e/postgres.py), never the shared one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.events.bus import APPLICATION_NAME
from app.settings import asyncpg_dsn
from tests.e2e.cycles import (
    PAY_BONUS,
    REQUEST_TIMEOUT,
    Retrying,
    cycle,
    new_contract,
    ok,
    until,
)
from tests.e2e.postgres import (
    SHARED_SERVER,
    Cluster,
    fresh_database,
    prepare,
    private_cluster,
    server_env,
    tokens,
)
from tests.e2e.servers import (
    Server,
    contract_events,
    running,
    start_server,
)

pytestmark = [pytest.mark.e2e, pytest.mark.own_database("postgres")]

CLIENTS = 8
MILESTONES = ("100.00", "50.00", "25.00")
CONTRACT_OF = "query($id: ID!) { milestone(id: $id) { status contract { id } } }"


@dataclass(frozen=True)
class Setup:
    workdir: Path
    env: dict[str, str]
    url: str  # the database's
    admin: asyncpg.Connection  # to the `postgres` database of the same server


def _check_books(setup: Setup) -> str:
    """Run tests/e2e/books_check.py on the test's database."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.books_check"],
        cwd=setup.workdir,
        env=setup.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return done.stdout


async def _moved_twice(setup: Setup) -> list[tuple[str, int, int]]:
    """(event, milestone id, count) for every milestone funded or released more than once: a
    retried key that moved money again would show here."""
    conn = await asyncpg.connect(asyncpg_dsn(setup.url))
    try:
        rows = await conn.fetch(
            """SELECT type, milestone_id, count(*) AS n FROM contract_events
               WHERE type IN ('MILESTONE_FUNDED', 'MILESTONE_RELEASED')
               GROUP BY type, milestone_id HAVING count(*) > 1"""
        )
    finally:
        await conn.close()
    return [(row["type"], row["milestone_id"], row["n"]) for row in rows]


@pytest.fixture
async def shared_db(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Setup]:
    purpose = request.node.name.removeprefix("test_")[:20]
    async with fresh_database(SHARED_SERVER, purpose) as (url, admin):
        env = server_env(tmp_path, url)
        await prepare(tmp_path, env)
        yield Setup(tmp_path, env, url, admin)


# --- kill -9 ---------------------------------------------------------------------------------


async def test_kill_9_under_load_then_retries_leave_the_books_whole(shared_db: Setup) -> None:
    # given a server, and 8 clients each with an accepted contract of 3 milestones
    server = start_server(shared_db.workdir, shared_db.env, "killed")
    with running(server):
        client, freelancer = await tokens(server)
        api = Retrying(server.base_url)
        contracts = await asyncio.gather(
            *(new_contract(api, client, freelancer, list(MILESTONES)) for _ in range(CLIENTS))
        )

        # when the clients run fund/submit/release cycles and the server is killed mid-way
        async def run(number: int, milestone_ids: list[str]) -> None:
            for position, milestone_id in enumerate(milestone_ids):
                await cycle(api, client, freelancer, milestone_id, f"c{number}-m{position}")

        work = [asyncio.create_task(run(n, ids)) for n, ids in enumerate(contracts)]
        await until(lambda: sum(api.answers.values()) >= 3 * CLIENTS, work)
        os.kill(server.pid, signal.SIGKILL)
        server.process.wait()
        restarted = start_server(shared_db.workdir, shared_db.env, "killed", port=server.port)
        with running(restarted, wait=False):
            await asyncio.gather(*work)

            # then every cycle completed, some only after resending
            assert api.answers["no answer"] > 0, api.answers
            assert api.resent, "the kill cut no request"
    # and the books balance, events are contiguous, and nothing moved money twice
    assert "hold" in _check_books(shared_db)
    assert await _moved_twice(shared_db) == []


# --- the database server stopped and started ---------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with private_cluster() as cluster:
        yield cluster


@pytest.fixture
async def private_db(tmp_path: Path, cluster: Cluster) -> AsyncIterator[Setup]:
    async with fresh_database(cluster.server, "outage") as (url, admin):
        env = server_env(tmp_path, url)
        await prepare(tmp_path, env)
        yield Setup(tmp_path, env, url, admin)


async def _status(server: Server, path: str) -> int:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=REQUEST_TIMEOUT) as http:
        return (await http.get(path)).status_code


async def _graphql(server: Server, query: str, token: str, **variables: object) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=REQUEST_TIMEOUT) as http:
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    return body


async def test_the_database_stopped_and_started_under_load(
    private_db: Setup, cluster: Cluster
) -> None:
    # given a server on the private cluster, a contract, and a subscriber of its events
    server = start_server(private_db.workdir, private_db.env, "outage")
    with running(server):
        client, freelancer = await tokens(server)
        api = Retrying(server.base_url)
        [first, _, _] = await new_contract(api, client, freelancer, list(MILESTONES))
        contract_id = (await api.send(CONTRACT_OF, {"id": first}, client))["milestone"]["contract"][
            "id"
        ]
        async with contract_events(server, client, contract_id, 2) as subscription:
            # and clients paying bonuses with idempotency keys all along
            stop = asyncio.Event()
            paid: list[str] = []

            async def pay(number: int) -> None:
                count = 0
                while not stop.is_set():
                    key = f"bonus-{number}-{count}"
                    ok(
                        await api.mutate(
                            PAY_BONUS,
                            client,
                            key,
                            contractId=contract_id,
                            amount="1.00",
                            idempotencyKey=key,
                        )
                    )
                    paid.append(key)
                    count += 1

            payers = [asyncio.create_task(pay(n)) for n in range(4)]
            await until(lambda: len(paid) >= 8, payers)

            # when the database server stops
            await asyncio.to_thread(cluster.stop)
            # then the server says it is not ready, and requests fail at once with a clean error
            assert await _status(server, "/readyz") == 503
            assert await _status(server, "/healthz") == 200
            for _ in range(3):
                answer = await _graphql(server, CONTRACT_OF, client, id=first)
                assert [e["extensions"]["code"] for e in answer["errors"]] == [
                    "SERVICE_UNAVAILABLE"
                ], answer
                assert await _status(server, "/readyz") == 503

            # when it starts again
            await asyncio.to_thread(cluster.start)
            # then the same process is ready again, and serves
            for _ in range(100):
                if await _status(server, "/readyz") == 200:
                    break
                await asyncio.sleep(0.1)
            assert await _status(server, "/readyz") == 200
            assert server.process.poll() is None
            await until(lambda: len(paid) >= 16, payers)
            stop.set()
            await asyncio.gather(*payers)

            # and the subscriber received every bonus, in order, without a gap or a repeat
            events = await subscription.events(len(paid))
            assert [e["sequence"] for e in events] == list(range(3, 3 + len(paid)))
            assert {e["type"] for e in events} == {"BONUS_PAID"}
            # and nothing more: a bonus paid now is the very next event
            ok(
                await api.mutate(
                    PAY_BONUS, client, "sentinel", contractId=contract_id, amount="1.00"
                )
            )
            [sentinel] = await subscription.events(1)
            assert (sentinel["sequence"], sentinel["type"]) == (3 + len(paid), "BONUS_PAID")
    assert api.answers["SERVICE_UNAVAILABLE"] + api.answers["no answer"] > 0, api.answers
    assert "hold" in _check_books(private_db)


# --- the pool's connections terminated ---------------------------------------------------------


async def _terminate_pool(setup: Setup, server: Server) -> int:
    """End every connection of the server's pool (not its LISTEN connection); how many."""
    name = setup.url.rsplit("/", 1)[1]
    killed = await setup.admin.fetch(
        """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE datname = $1 AND application_name <> $2 AND pid <> pg_backend_pid()""",
        name,
        f"{APPLICATION_NAME}:{server.pid}",
    )
    return len(killed)


async def test_terminated_pool_connections_mid_mutation_leave_nothing_half_written(
    shared_db: Setup,
) -> None:
    # given a server, and 8 clients each paying bonuses with idempotency keys on a contract
    server = start_server(shared_db.workdir, shared_db.env, "terminated")
    with running(server):
        client, freelancer = await tokens(server)
        api = Retrying(server.base_url)
        contracts = await asyncio.gather(
            *(new_contract(api, client, freelancer, ["10.00"]) for _ in range(CLIENTS))
        )
        contract_ids = [
            (await api.send(CONTRACT_OF, {"id": ids[0]}, client))["milestone"]["contract"]["id"]
            for ids in contracts
        ]
        paid: list[str] = []
        stop = asyncio.Event()

        async def pay(number: int, contract_id: str) -> None:
            count = 0
            while not stop.is_set():
                key = f"bonus-{number}-{count}"
                payload = await api.mutate(
                    PAY_BONUS,
                    client,
                    key,
                    contractId=contract_id,
                    amount="1.00",
                    idempotencyKey=key,
                )
                ok(payload)
                paid.append(key)
                count += 1

        payers = [asyncio.create_task(pay(n, c)) for n, c in enumerate(contract_ids)]
        # when the pool's connections are terminated again and again while they pay
        terminated = 0

        def paid_at_least(count: int) -> bool:
            return len(paid) >= count

        for round_ in range(5):
            await until(partial(paid_at_least, 8 * (round_ + 1)), payers)
            terminated += await _terminate_pool(shared_db, server)
        # then the next requests succeed
        done = len(paid)
        await until(lambda: len(paid) >= done + 16, payers)
        stop.set()
        await asyncio.gather(*payers)
        assert terminated > 0
        assert server.process.poll() is None
        # and the requests cut mid-way got a clean error (then were retried), never INTERNAL
        assert set(api.answers) <= {"200", "SERVICE_UNAVAILABLE", "no answer"}, api.answers
    # and nothing is half-written: the books balance, and each key paid once
    assert "hold" in _check_books(shared_db)
    conn = await asyncpg.connect(asyncpg_dsn(shared_db.url))
    try:
        bonuses = await conn.fetchval(
            "SELECT count(*) FROM contract_events WHERE type = 'BONUS_PAID'"
        )
    finally:
        await conn.close()
    assert bonuses == len(paid) == len(set(paid))
