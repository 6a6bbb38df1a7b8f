"""A compiled read takes one connection of the pool for all of its statements (asyncpg resets
a connection on each return to the pool, a round trip of its own), and sends a fixed number of
statements for the benchmark's dashboard and detail (`app.bench_data`), whatever the rows."""

from __future__ import annotations

from typing import Any

from app.bench_data import DASHBOARD, DETAIL
from app.graphql.context import Context
from app.graphql.limits import Limits
from app.graphql.schema import build_schema
from app.services.runtime import Runtime
from tests.api.client import Api
from tests.api.people import Parties
from tests.api.scenarios import funded, submitted
from tests.conftest import is_postgres
from tests.services.test_query_counts import counting_checkouts, counting_statements


async def _counted(
    runtime: Runtime, token: str, query: str, variables: dict[str, Any]
) -> tuple[int, int]:
    """(statements, checkouts) of a compiled request, the caller's token already known."""
    schema = build_schema(Limits())
    context = Context(runtime=runtime, token=token)
    await context.require()
    with counting_statements() as statements, counting_checkouts() as checkouts:
        result = await schema.execute(query, variables, context_value=context)
    assert not result.errors, result.errors
    return len(statements), len(checkouts)


async def test_a_compiled_read_runs_its_statements_on_one_connection(
    api: Api, parties: Parties, runtime: Runtime
) -> None:
    # given: a contract with a release (ledger entries, several milestones)
    contract = await submitted(api, parties, "80.00", "20.00")
    await funded(api, parties, "30.00")
    token = parties.client.token
    # when
    dashboard = await _counted(runtime, token, DASHBOARD, {})
    detail = await _counted(runtime, token, DETAIL, {"id": contract["id"]})
    # then: contracts page; users; milestones -- contract; users; milestones; ledger
    # totals; entries page. PostgreSQL takes one pooled connection for them all; SQLite has
    # one connection, taken by each statement.
    assert dashboard == (3, 1 if is_postgres() else 3), dashboard
    assert detail == (5, 1 if is_postgres() else 5), detail
