"""Database and app fixtures.

`TEST_DATABASE_URL` picks the database: a SQLite file by default, or PostgreSQL
(`scripts/test` uses `postgres://postgres@127.0.0.1:5432/escrow_test_<pid>`), which is created
afresh and dropped at the end.
Migrations build the schema, so the committed migrations are what every test runs on.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from functools import cache
from pathlib import Path

import asyncpg
import pytest
from tortoise.contrib.test import truncate_all_models

from app.auth import passwords
from app.db.config import close_database, migrate_database, open_database
from app.services import accounts
from app.services.runtime import Runtime
from tests.support import FrozenClock, make_runtime

pytest_plugins = ["tests.api.client", "tests.differential"]


def database_url(tmp: Path) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite://{tmp / 'test.sqlite3'}"


def is_postgres() -> bool:
    return (os.environ.get("TEST_DATABASE_URL") or "").startswith(("postgres://", "postgresql://"))


async def _on_postgres_server(url: str, *statements: str) -> None:
    base, _, name = url.rpartition("/")
    admin = await asyncpg.connect(base.replace("postgres://", "postgresql://", 1) + "/postgres")
    try:
        for statement in statements:
            await admin.execute(statement.format(name=name))
    finally:
        await admin.close()


DROP = 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'


@pytest.fixture(scope="session")
async def db_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    url = database_url(tmp_path_factory.mktemp("db"))
    postgres = url.startswith(("postgres://", "postgresql://"))
    if postgres:
        url = "postgres://" + url.split("://", 1)[1]
        await _on_postgres_server(url, DROP, 'CREATE DATABASE "{name}"')
    await migrate_database(url)
    await open_database(url)
    yield url
    await close_database()
    if postgres:
        await _on_postgres_server(url, DROP)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[None]:
    """An empty, migrated database for one test."""
    yield
    await truncate_all_models()


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    yield FrozenClock()


@pytest.fixture
def runtime(clock: FrozenClock) -> Runtime:
    return make_runtime(clock)


@pytest.fixture
def no_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read in an empty directory: no `.env` of the developer's is read or written."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> Iterator[None]:
    """Each password is hashed once per session: argon2 costs ~0.1 s a hash and most tests
    create people. The hashes stay real, salted argon2, so verification is unchanged."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "hash_password", cache(passwords.hash_password))
        yield


PASSES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`scripts/test` runs the suite twice, on SQLite and on PostgreSQL, naming the pass in
    `TEST_PASS`. A test marked `own_database(kind)` starts its servers on a database of its own
    whatever `TEST_DATABASE_URL` says, so a second run would test nothing new: it runs in the
    pass of its kind only. Without `TEST_PASS` (a plain `pytest`) every test runs."""
    current = os.environ.get("TEST_PASS")
    if not current:
        return
    if current not in PASSES:
        raise pytest.UsageError(f"TEST_PASS must be one of {sorted(PASSES)}, not {current!r}")
    for item in items:
        mark = item.get_closest_marker("own_database")
        if mark is None:
            continue
        kind = mark.args[0]
        if kind not in PASSES:
            raise pytest.UsageError(f"{item.nodeid}: own_database({kind!r}) names no pass")
        if kind != current:
            reason = f"runs in the {PASSES[kind]} pass: it uses a database of its own"
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_report_header() -> str:
    return f"database: {'PostgreSQL' if is_postgres() else 'SQLite'}"
