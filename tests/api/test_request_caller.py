"""The caller of a request is looked up once, however many of its fields need it: fields that
resolve at the same time wait on that one lookup, so a bad token costs one statement and is
answered with the same error every time (the first field's), by the standard executor as by
the compiled read path."""

from __future__ import annotations

import pytest

from app.graphql.context import Context
from app.graphql.limits import Limits
from app.graphql.schema import build_schema
from app.services.runtime import Runtime
from tests.api.people import Parties
from tests.services.test_query_counts import counting_statements

BOTH = "query { viewer { id } contracts(first: 1) { totalCount } }"


def _token_lookups(statements: list[str]) -> int:
    return sum("api_tokens" in s and s.lstrip().upper().startswith("SELECT") for s in statements)


@pytest.mark.parametrize("compiled", [False, True], ids=["standard", "compiled"])
async def test_a_bad_token_is_looked_up_once_and_refused_on_the_first_field(
    runtime: Runtime, parties: Parties, compiled: bool
) -> None:
    schema = build_schema(Limits(), compiled=compiled)
    for _ in range(5):
        with counting_statements() as statements:
            result = await schema.execute(
                BOTH, context_value=Context(runtime=runtime, token="not-a-token")
            )
        assert [e.path for e in result.errors or []] == [["viewer"]]
        assert _token_lookups(statements) == 1, statements


async def test_a_good_token_is_looked_up_once_per_request(
    runtime: Runtime, parties: Parties, monkeypatch: pytest.MonkeyPatch
) -> None:
    # with nothing kept across requests, a request asks the database once, not once per field
    monkeypatch.setattr(runtime.principals, "ttl", 0.0)
    schema = build_schema(Limits(), compiled=False)
    with counting_statements() as statements:
        result = await schema.execute(
            BOTH, context_value=Context(runtime=runtime, token=parties.client.token)
        )
    assert result.errors is None
    assert _token_lookups(statements) == 1, statements
