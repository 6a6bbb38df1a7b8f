"""Fixtures of the API tests: the four people of a contract, a clean database, and speed-ups."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import cache

import httpx
import pytest
from tortoise import Tortoise
from tortoise.contrib.test import _topological_sort_models, truncate_all_models
from tortoise.transactions import in_transaction

from app import main
from app.services.runtime import Runtime
from tests import differential
from tests.api.client import Api
from tests.api.people import Parties, join


@pytest.fixture(scope="session", autouse=True)
def schema_built_once() -> Iterator[None]:
    """The schema for given limits is built once per session (~80 ms a build); it holds no
    state between requests. Each is recorded with its limits, for the replays of
    tests/differential.py. (Passwords are hashed once: tests/conftest.py.)"""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(main, "build_schema", cache(differential.build_recorded))
        yield


@pytest.fixture(scope="session", autouse=True)
async def unsynced_commits(db_url: str) -> None:
    """Commits without waiting for the disk: the API tests commit thousands of times, and a
    test database need not survive a power cut. Nothing else changes: isolation and locking
    are as in production."""
    if db_url.startswith("sqlite://"):
        await Tortoise.get_connection("default").execute_script("PRAGMA synchronous = OFF")
        return
    name = db_url.rpartition("/")[2]
    await Tortoise.get_connection("default").execute_script(
        # for the connections opened from now on, and for the one already open
        f'ALTER DATABASE "{name}" SET synchronous_commit = off; SET synchronous_commit = off'
    )


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[None]:
    """An empty, migrated database for one test (overrides tests/conftest.py's `db`).

    On PostgreSQL the rows are deleted in one transaction, children first: for the few rows a
    test writes that takes milliseconds, where TRUNCATE rewrites every table (~80 ms a test).
    """
    yield
    if not db_url.startswith("postgres://"):
        await truncate_all_models()
        return
    models = _topological_sort_models(list(Tortoise.apps.get_models_iterable()))
    async with in_transaction() as connection:
        for model in models:
            await connection.execute_script(f'DELETE FROM "{model._meta.db_table}"')


@pytest.fixture(autouse=True)
def database_kept_for_the_replays(request: pytest.FixtureRequest) -> None:
    """The database of a test whose reads are replayed at its end is set up first, so that it
    is emptied after the replays (see `reads_replayed_at_the_end`)."""
    probe = differential.current()
    if probe is not None and probe.observed and "db" in request.fixturenames:
        request.getfixturevalue("db")


@pytest.fixture(autouse=True)
async def reads_replayed_at_the_end(database_kept_for_the_replays: None) -> AsyncIterator[None]:
    """The reads of a test that patches something are replayed on both read paths after its
    body (tests/differential.py), on the database it left."""
    probe = differential.current()
    yield
    if probe is not None:
        await probe.replay_pending()


@pytest.fixture
async def parties(api: Api, runtime: Runtime) -> Parties:
    """Carol the client, Frank the freelancer, Olga an outsider and Ada an admin."""
    return Parties(
        client=await join(runtime, "Carol"),
        freelancer=await join(runtime, "Frank"),
        outsider=await join(runtime, "Olga"),
        admin=await join(runtime, "Ada", admin=True),
    )


@pytest.fixture
async def http(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the in-process app, for what `api` does not send (raw bodies, headers,
    methods other than POST)."""
    transport = httpx.ASGITransport(app=api.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
