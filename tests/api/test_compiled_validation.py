"""A document validated before is not validated again, nor is its syntax tree walked to find
its verdict (strawberry's `ValidationCache` hashes the whole tree on every request); an invalid
one keeps its errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from graphql.language import ast

from app.graphql.limits import Limits
from app.graphql.schema import build_schema

VALID = "query { __typename }"
INVALID = "query { contracts(first: 1) { nope } }"


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """The location of each syntax tree node hashed (a node's hash is that of its fields)."""
    seen: list[object] = []
    original = ast.Location.__hash__

    def counting(location: ast.Location) -> int:
        seen.append(location)
        return original(location)

    monkeypatch.setattr(ast.Location, "__hash__", counting)
    yield seen


async def test_a_known_document_is_not_walked_again(hashed: list[object]) -> None:
    # given
    schema = build_schema(Limits())
    first = await schema.execute(VALID)
    hashed.clear()
    # when
    again = await schema.execute(VALID)
    # then
    assert first.data == again.data == {"__typename": "Query"}
    assert hashed == []


async def test_an_invalid_document_keeps_its_errors() -> None:
    # given
    schema = build_schema(Limits())
    first = await schema.execute(INVALID)
    # when
    again = await schema.execute(INVALID)
    # then
    assert first.errors and again.errors
    assert [e.message for e in first.errors] == [e.message for e in again.errors]
    assert "nope" in first.errors[0].message
