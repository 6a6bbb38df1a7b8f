"""The whole app in-process, driven through gql over httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from starlette.applications import Starlette

from app.main import create_app
from app.services.runtime import Runtime
from app.settings import Settings


@dataclass
class Result:
    data: dict[str, Any] | None
    errors: list[dict[str, Any]]

    @property
    def codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code") for e in self.errors]


class Api:
    """Runs GraphQL operations against the app as a given bearer token."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    async def raw(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
        *,
        operation_name: str | None = None,
    ) -> Result:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = HTTPXAsyncTransport(
            url="http://testserver/graphql",
            transport=httpx.ASGITransport(app=self.app),
            headers=headers,
        )
        async with Client(transport=transport) as session:
            try:
                result = await session.execute(
                    gql(query),
                    variable_values=variables,
                    operation_name=operation_name,
                    get_execution_result=True,
                )
            except TransportQueryError as error:
                return Result(data=error.data, errors=list(error.errors or []))
        return Result(
            data=result.data,
            errors=[e if isinstance(e, dict) else e.formatted for e in result.errors or []],
        )

    async def ok(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The data of an operation that must succeed without errors or userErrors."""
        result = await self.raw(query, variables, token)
        assert not result.errors, result.errors
        assert result.data is not None
        for payload in result.data.values():
            if isinstance(payload, dict) and "userErrors" in payload:
                assert payload["userErrors"] == [], payload["userErrors"]
        return result.data


@pytest.fixture
async def api(db: None, runtime: Runtime) -> AsyncIterator[Api]:
    settings = Settings(SECRET_KEY=runtime.secret_key, RATE_LIMIT_PER_MINUTE=100_000)
    app = create_app(settings, runtime=runtime, database=False)
    async with LifespanManager(app):
        yield Api(app)
