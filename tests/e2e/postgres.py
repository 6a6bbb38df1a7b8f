"""PostgreSQL for the end-to-end tests: a fresh database of their own on the shared server, or a
private throwaway cluster that a test may stop and start (never the shared one, which other
tests and processes use).

The shared server is `E2E_POSTGRES_SERVER` (default `postgres://postgres@127.0.0.1:5432`).
Without one the tests are skipped, except in CI (`CI=true`), where they fail. The private
cluster needs PostgreSQL's `initdb` and `pg_ctl` (`PG_BINDIR`, default the Debian path of
version 15); as root it runs them as the `postgres` OS user, since `initdb` refuses root.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.e2e.conftest import _free_port, _server_env
from tests.e2e.servers import LOGIN, Server, http, run_cli

SHARED_SERVER = os.environ.get("E2E_POSTGRES_SERVER", "postgres://postgres@127.0.0.1:5432")
PG_BINDIR = Path(os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin"))
PASSWORD = "correct horse battery"
PEOPLE = (("carol@example.com", "Carol"), ("frank@example.com", "Frank"))


def dsn(server: str, database: str) -> str:
    return "postgresql://" + server.split("://", 1)[1] + "/" + database


async def connect_or_skip(server: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(dsn(server, "postgres"), timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        reason = f"PostgreSQL is unreachable at {server}: {error!r}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the PostgreSQL end-to-end tests", pytrace=False)
        pytest.skip(reason)


@contextlib.asynccontextmanager
async def fresh_database(
    server: str, purpose: str
) -> AsyncIterator[tuple[str, asyncpg.Connection]]:
    """A new database `escrow_e2e_<purpose>_<pid>`, dropped at the end: its URL for the servers,
    and a connection to the `postgres` database for the test's own looks (pg_stat_activity)."""
    admin = await connect_or_skip(server)
    name = f"escrow_e2e_{purpose}_{os.getpid()}"
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"{server}/{name}", admin
    finally:
        await _drop(server, admin, name)


async def _drop(server: str, admin: asyncpg.Connection, name: str) -> None:
    if admin.is_closed():  # the test stopped the database server meanwhile
        try:
            admin = await asyncpg.connect(dsn(server, "postgres"), timeout=5)
        except (OSError, asyncpg.PostgresError):
            return  # still down: a private cluster, thrown away with its databases
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def server_env(workdir: Path, database_url: str, **settings: str) -> dict[str, str]:
    env = _server_env(workdir)
    env.update(DATABASE_URL=database_url, RATE_LIMIT_PER_MINUTE="100000", **settings)
    return env


async def prepare(workdir: Path, env: dict[str, str]) -> None:
    """Migrate, and create Carol (a client) and Frank (a freelancer) through the CLI."""
    await asyncio.to_thread(run_cli, workdir, env, "migrate")
    for email, name in PEOPLE:
        await asyncio.to_thread(
            run_cli, workdir, env, "create-user", "--email", email, "--name", name,
            "--password", PASSWORD,
        )  # fmt: skip


async def tokens(server: Server) -> tuple[str, str]:
    """Tokens of Carol and Frank, by logging in on `server`."""
    async with http(server) as api:
        found = [
            (await api.mutate(LOGIN, None, email=email, password=PASSWORD))["token"]
            for email, _ in PEOPLE
        ]
    return found[0], found[1]


# --- a private cluster ---------------------------------------------------------------------


@dataclass
class Cluster:
    """A throwaway PostgreSQL cluster on 127.0.0.1, trust authentication."""

    datadir: Path
    port: int
    log: Path

    @property
    def server(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def _pg_ctl(self, *args: str) -> None:
        command = [str(PG_BINDIR / "pg_ctl"), "-D", str(self.datadir), *args]
        subprocess.run(_as_postgres(command), check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self._pg_ctl("-l", str(self.log), "-w", "start")

    def stop(self) -> None:
        """A fast shutdown: open connections are ended, as when a database server goes away."""
        self._pg_ctl("-m", "fast", "-w", "stop")


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def private_cluster() -> Iterator[Cluster]:
    if not (PG_BINDIR / "initdb").exists():
        reason = f"no PostgreSQL binaries at {PG_BINDIR} for a private cluster"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="escrow-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    cluster = Cluster(datadir=root / "data", port=_free_port(), log=root / "postgres.log")
    subprocess.run(
        _as_postgres(
            [str(PG_BINDIR / "initdb"), "-D", str(cluster.datadir), "-U", "postgres",
             "--auth=trust", "--no-sync"]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    with (cluster.datadir / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write(
            f"listen_addresses = '127.0.0.1'\nport = {cluster.port}\n"
            f"unix_socket_directories = '{root}'\nfsync = off\n"
        )
    try:
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            cluster._pg_ctl("-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
