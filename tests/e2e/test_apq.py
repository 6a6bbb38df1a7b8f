"""Automatic persisted queries against real server processes, spoken by gql's HTTPX transport
the way Apollo's persisted-query link speaks them: each operation goes first as its hash alone,
its text follows only when the server answers `PersistedQueryNotFound`. Two `serve` processes
on one PostgreSQL database share the documents: one registered on either runs by its hash on
the other."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from gql import Client, GraphQLRequest
from gql.transport.httpx import HTTPXAsyncTransport
from graphql import ExecutionResult

from tests.e2e.postgres import SHARED_SERVER, fresh_database, server_env
from tests.e2e.servers import Server, running, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.own_database("postgres")]

POLICY = "{ policy { maxMilestonesPerContract } }"
REGISTER = """
mutation($input: RegisterInput!) { register(input: $input) { token userErrors { code } } }
"""


class PersistedQueryTransport(HTTPXAsyncTransport):
    """Apollo's persisted-query link over gql's HTTPX transport; `sent` records each body."""

    def __init__(self, url: str) -> None:
        super().__init__(url=url, timeout=10)
        self.sent: list[dict[str, Any]] = []
        self._hash_only = False

    def _prepare_request(self, request: Any, **kwargs: Any) -> dict[str, Any]:
        post_args = super()._prepare_request(request, **kwargs)
        if self._hash_only:
            post_args["json"].pop("query")
        self.sent.append(dict(post_args["json"]))
        return post_args

    async def execute(self, request: GraphQLRequest, **kwargs: Any) -> ExecutionResult:
        text = request.payload["query"]
        sha256 = hashlib.sha256(text.encode()).hexdigest()
        persisted = GraphQLRequest(
            request, extensions={"persistedQuery": {"version": 1, "sha256Hash": sha256}}
        )
        self._hash_only = True
        try:
            result = await super().execute(persisted, **kwargs)
        finally:
            self._hash_only = False
        errors: list[Any] = result.errors or []  # gql hands over the JSON objects
        if any(e.get("message") == "PersistedQueryNotFound" for e in errors):
            result = await super().execute(persisted, **kwargs)
        return result


@pytest.fixture
async def two_servers(tmp_path: Path) -> AsyncIterator[tuple[Server, Server]]:
    async with fresh_database(SHARED_SERVER, f"apq_{os.getpid()}"[:20]) as (url, _):
        env = server_env(tmp_path, url)
        first = start_server(tmp_path, env, "first")
        second = start_server(tmp_path, env, "second")
        with running(first, second):
            yield first, second


async def _run(
    server: Server, query: str, variables: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The data of one operation through the link, and the bodies the link sent."""
    transport = PersistedQueryTransport(f"{server.base_url}/graphql")
    async with Client(transport=transport) as session:
        data = await session.execute(GraphQLRequest(query, variable_values=variables))
    return data, transport.sent


def _shapes(sent: list[dict[str, Any]]) -> list[str]:
    return ["text" if "query" in body else "hash" for body in sent]


async def test_a_query_registered_on_one_process_runs_by_its_hash_on_another(
    two_servers: tuple[Server, Server],
) -> None:
    first, second = two_servers

    # when the link runs a query it has never sent, on the first process
    data, sent = await _run(first, POLICY)
    # then its hash alone was not found, and the retry with the text ran it
    assert data == {"policy": {"maxMilestonesPerContract": 200}}
    assert _shapes(sent) == ["hash", "text"]

    # and on the second process, the hash alone is enough
    data, sent = await _run(second, POLICY)
    assert data == {"policy": {"maxMilestonesPerContract": 200}}
    assert _shapes(sent) == ["hash"]


async def test_a_persisted_mutation_runs_by_its_hash_with_new_variables(
    two_servers: tuple[Server, Server],
) -> None:
    first, second = two_servers

    def person(name: str) -> dict[str, Any]:
        email = f"{name.lower()}@example.com"
        return {"input": {"email": email, "name": name, "password": "correct horse battery"}}

    carol, sent = await _run(second, REGISTER, person("Carol"))
    assert carol["register"]["token"] and carol["register"]["userErrors"] == []
    assert _shapes(sent) == ["hash", "text"]

    frank, sent = await _run(first, REGISTER, person("Frank"))
    assert frank["register"]["token"] and frank["register"]["userErrors"] == []
    assert _shapes(sent) == ["hash"]
    for server in two_servers:
        assert "Traceback" not in server.log.read_text(encoding="utf-8", errors="replace")
