"""Database and app fixtures.

`TEST_DATABASE_URL` picks the database: a SQLite file by default, or PostgreSQL
(`scripts/test` uses `postgres://postgres@127.0.0.1:5432/escrow_test_<pid>`), which is created
afresh and dropped at the end.
Migrations build the schema, so the committed migrations are what every test runs on.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from tortoise.contrib.test import truncate_all_models

from app.db.config import close_database, migrate_database, open_database
from tests.support import FrozenClock, make_runtime

pytest_plugins = ["tests.api.client"]


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
def runtime(clock: FrozenClock):  # type: ignore[no-untyped-def]
    return make_runtime(clock)


def pytest_report_header() -> str:
    return f"database: {'PostgreSQL' if is_postgres() else 'SQLite'}"
