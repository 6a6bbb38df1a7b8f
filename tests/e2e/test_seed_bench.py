"""`python -m app seed-bench` on SQLite and on PostgreSQL: the books of the data set hold, every
status is there, the dashboard client holds its contracts, and the benchmark's reads (Q1, Q2)
answer sensibly through the real server."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from app.bench_data import DASHBOARD, DETAIL
from app.domain.milestones import MilestoneStatus
from app.domain.permissions import ContractStatus
from tests.e2e.conftest import _server_env
from tests.e2e.postgres import SHARED_SERVER, dsn, fresh_database, server_env
from tests.e2e.servers import http, run_cli, running, start_server

pytestmark = pytest.mark.e2e

CONTRACTS, CLIENT_CONTRACTS = 200, 60
TOKEN = re.compile(r"^\s+(\S+)\s+\S+@\S+\s+id (\d+)\n\s+Authorization: Bearer (\S+)$", re.MULTILINE)
ON_SQLITE = pytest.param("sqlite", marks=pytest.mark.own_database("sqlite"))
ON_POSTGRES = pytest.param("postgres", marks=pytest.mark.own_database("postgres"))


@dataclass(frozen=True)
class Seeded:
    kind: str
    url: str
    workdir: Path
    env: dict[str, str]
    output: str

    def token(self, label: str) -> str:
        found: str = next(t for name, _, t in TOKEN.findall(self.output) if name == label)
        return found

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.kind == "sqlite":
            with sqlite3.connect(self.url.removeprefix("sqlite://")) as conn:
                return conn.execute(sql).fetchall()
        conn = await asyncpg.connect(dsn(SHARED_SERVER, self.url.rsplit("/", 1)[1]))
        try:
            return [tuple(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()


@pytest.fixture(scope="module", params=[ON_SQLITE, ON_POSTGRES])
async def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Seeded]:
    kind: str = request.param
    workdir = tmp_path_factory.mktemp(f"seed-bench-{kind}")
    args = (
        "seed-bench",
        "--contracts",
        str(CONTRACTS),
        "--client-contracts",
        str(CLIENT_CONTRACTS),
    )
    if kind == "sqlite":
        env = _server_env(workdir)
        output = await asyncio.to_thread(run_cli, workdir, env, *args)
        yield Seeded(kind, env["DATABASE_URL"], workdir, env, output)
        return
    async with fresh_database(SHARED_SERVER, "seed_bench") as (url, _):
        env = server_env(workdir, url)
        output = await asyncio.to_thread(run_cli, workdir, env, *args)
        yield Seeded(kind, url, workdir, env, output)


def books_check(seeded: Seeded) -> str:
    """The books checker as a process of its own on the seeded database."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.books_check"],
        cwd=seeded.workdir,
        env=seeded.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return done.stdout


async def test_the_books_of_the_data_set_hold(seeded: Seeded) -> None:
    output = await asyncio.to_thread(books_check, seeded)
    assert f"The books of {CONTRACTS} contract(s) hold." in output


async def test_every_status_is_there_and_the_client_holds_its_contracts(seeded: Seeded) -> None:
    milestones = dict(await seeded.rows("SELECT status, count(*) FROM milestones GROUP BY status"))
    assert set(milestones) == set(MilestoneStatus), milestones
    assert sum(milestones.values()) == CONTRACTS * 10
    contracts = dict(await seeded.rows("SELECT status, count(*) FROM contracts GROUP BY status"))
    assert set(contracts) == set(ContractStatus), contracts
    [(heavy,)] = await seeded.rows(
        "SELECT count(*) FROM contracts c JOIN users u ON u.id = c.client_id"
        " WHERE u.email = 'bench-client@example.com'"
    )
    assert heavy == CLIENT_CONTRACTS
    # about two ledger entries per funded milestone, and events match every contract's sequence
    [(entries,)] = await seeded.rows("SELECT count(*) FROM ledger_entries")
    funded = sum(n for s, n in milestones.items() if s not in ("NOT_FUNDED", "CANCELLED"))
    assert 2 * funded <= entries <= 5 * funded
    assert (
        await seeded.rows(
            "SELECT c.id FROM contracts c LEFT JOIN contract_events e ON e.contract_id = c.id"
            " GROUP BY c.id, c.last_sequence HAVING count(e.id) <> c.last_sequence"
        )
        == []
    )


async def test_seeding_again_issues_fresh_tokens_only(seeded: Seeded) -> None:
    output = await asyncio.to_thread(run_cli, seeded.workdir, seeded.env, "seed-bench")
    assert "already loaded" in output
    assert {name for name, _, _ in TOKEN.findall(output)} == {
        "client",
        "cycle-client",
        "cycle-freelancer",
    }
    [(count,)] = await seeded.rows("SELECT count(*) FROM contracts")
    assert count == CONTRACTS


async def test_the_benchmark_reads_answer_on_the_data_set(seeded: Seeded) -> None:
    token = seeded.token("client")
    with running(start_server(seeded.workdir, seeded.env)) as (server,):
        async with http(server) as api:
            dashboard = (await api.ok(DASHBOARD, token=token))["contracts"]
            assert dashboard["totalCount"] == CLIENT_CONTRACTS
            assert dashboard["pageInfo"]["hasNextPage"] is True
            edges = dashboard["edges"]
            assert len(edges) == 50
            assert all(len(e["node"]["milestones"]) == 10 for e in edges)
            assert len({e["node"]["client"]["id"] for e in edges}) == 1
            created = [e["node"]["createdAt"] for e in edges]
            assert created == sorted(created, reverse=True)
            # the contract of the page with the most released milestones, in detail
            busiest = max(
                edges,
                key=lambda e: sum(m["status"] == "RELEASED" for m in e["node"]["milestones"]),
            )
            detail = await api.ok(DETAIL, {"id": busiest["node"]["id"]}, token=token)
    contract = detail["contract"]
    assert [m["id"] for m in contract["milestones"]] == [
        m["id"] for m in busiest["node"]["milestones"]
    ]
    entries = contract["escrow"]["entries"]
    assert len(entries["edges"]) == min(20, entries["totalCount"])
    assert entries["totalCount"] >= 4  # a released milestone: funding, fees, release
    assert float(contract["escrow"]["held"]["amount"]) >= 0


@pytest.mark.own_database("sqlite")
async def test_a_database_with_other_contracts_is_refused(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    workdir = tmp_path_factory.mktemp("seed-bench-refused")
    env = _server_env(workdir)
    await asyncio.to_thread(run_cli, workdir, env, "seed-demo")
    with pytest.raises(AssertionError, match=r"failed \(1\)"):
        await asyncio.to_thread(run_cli, workdir, env, "seed-bench", "--contracts", "5")
