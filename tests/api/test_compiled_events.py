"""A subscription's events written by the compiled read path are what the standard executor
builds (issue 9, point 6): the same bytes, as each caller, for replayed and live events, errors
included.

Each subscription runs twice at once, through the schema with the compiled path and through
the one without it, on the same contract and the same fan-out; after each change both streams
are read, and each delivery must be the same bytes on both.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Iterator
from functools import cache
from typing import Any

import pytest
from strawberry.http import process_result

from app.events.fanout import Fanout
from app.graphql.compiled import events
from app.graphql.compiled.objects import Objects
from app.graphql.context import Context
from app.graphql.schema import Schema, build_schema
from app.graphql.view import encode
from app.services.runtime import Runtime
from tests.api.client import Api
from tests.api.people import Parties
from tests.api.scenarios import active, milestone_ids
from tests.api.test_subscriptions import (
    CONTRACT_EVENTS,
    MILESTONE_UPDATED,
    Stream,
    bonus,
    fund,
    release,
    submit,
    until,
)

USER = "fragment Person on User { __typename id name email isAdmin }"

RICH_EVENTS = (
    """
subscription Rich($id: ID!, $after: Int, $deep: Boolean = true) {
  contractEvents(contractId: $id, afterSequence: $after) {
    __typename id sequence type occurredAt message
    money: amount { __typename amount currency }
    actor { ...Person }
    milestone {
      id title status position amount { amount currency } fundedAmount { amount }
      contract @include(if: $deep) { id title status currency client { ...Person } }
    }
    contract {
      id status
      escrow { held { amount } available { amount currency } totalReleased { amount } }
      activeMilestone { id status }
      milestones { id status releasedAmount { amount } }
      events(first: 2) { totalCount edges { cursor node { sequence type } } }
    }
  }
}
"""
    + USER
)

RICH_MILESTONES = (
    """
subscription($id: ID) {
  milestoneUpdated(contractId: $id) {
    __typename id status title dueDate fundedAt submittedAt releasedAt
    amount { amount currency } releasedAmount { amount }
    contract { id title freelancer { ...Person } escrow { held { amount } } }
  }
}
"""
    + USER
)

LAST_PAGE = """
subscription($id: ID!) {
  contractEvents(contractId: $id) { sequence contract { events(last: 2) { totalCount } } }
}
"""

UNCOVERED = """
subscription($id: ID!) {
  contractEvents(contractId: $id) { sequence milestone { submissions { id status } } }
}
"""


@cache
def _schema(compiled: bool) -> Schema:
    return build_schema(compiled=compiled)


def _more_than(fan: Fanout, count: int) -> Callable[[], bool]:
    return lambda: fan.subscriber_count > count


async def _first(
    runtime: Runtime, compiled: bool, token: str | None, query: str, variables: dict[str, Any]
) -> bytes:
    """The first result of a subscription that is refused, and so ends with it."""
    context = Context(runtime=runtime, token=token)
    results = await _schema(compiled).subscribe(
        query, variable_values=variables, context_value=context
    )
    if isinstance(results, AsyncGenerator):
        stream = results
        first = await anext(stream)
        await stream.aclose()
        return encode(process_result(first))
    return encode(process_result(results))


class Pairs:
    """Subscriptions opened on both schemas, each waited for until it is on the fan-out."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.pairs: list[tuple[str, Stream, Stream]] = []

    async def open(self, token: str | None, query: str, field: str, **variables: Any) -> None:
        streams = []
        fan = self.runtime.bus.fanout
        for compiled in (True, False):
            before = fan.subscriber_count
            context = Context(runtime=self.runtime, token=token)
            results = await _schema(compiled).subscribe(
                query, variable_values=variables, context_value=context
            )
            assert hasattr(results, "__anext__"), results
            streams.append(Stream(results, field))  # type: ignore[arg-type]
            await until(_more_than(fan, before), "the subscriber is on the fan-out")
        self.pairs.append((f"{token} {query} {variables}", streams[0], streams[1]))

    async def same(self, count: int) -> None:
        """The next `count` deliveries of each pair are the same bytes on both schemas."""
        for what, compiled, standard in self.pairs:
            for _ in range(count):
                bodies = []
                for stream in (compiled, standard):
                    result = await stream.result()
                    assert result is not None, what
                    bodies.append(encode(process_result(result)))
                assert bodies[0] == bodies[1], what

    async def close(self) -> None:
        for _, *streams in self.pairs:
            for stream in streams:
                await stream.close()


@pytest.fixture
async def pairs(runtime: Runtime) -> AsyncGenerator[Pairs, None]:
    opened = Pairs(runtime)
    yield opened
    await opened.close()


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The type of each event written by its plan (once per shared write)."""
    types: list[str] = []
    write = events._write

    async def spy(plan: Objects, *args: Any) -> Any:
        types.append(plan.roots[0].name)
        return await write(plan, *args)

    monkeypatch.setattr(events, "_write", spy)
    yield types


async def test_contract_events_are_the_same_bytes_as_the_standard_executor_builds(
    api: Api, parties: Parties, pairs: Pairs, written: list[str]
) -> None:
    # given a contract with two events, replayed to the freelancer, and both parties and an
    # admin subscribed live
    contract = await active(api, parties, "100.00", "50.00")
    first, second = milestone_ids(contract)
    replay = {"id": contract["id"], "after": 0, "deep": False}
    await pairs.open(parties.freelancer.token, RICH_EVENTS, "contractEvents", **replay)
    await pairs.same(2)
    for member in (parties.client, parties.freelancer, parties.admin):
        for query in (CONTRACT_EVENTS, RICH_EVENTS):
            await pairs.open(member.token, query, "contractEvents", id=contract["id"])
    for query in (UNCOVERED, LAST_PAGE):
        await pairs.open(parties.client.token, query, "contractEvents", id=contract["id"])
    # when / then: each change is the same event on both
    for change in (
        fund(api, parties, first),
        submit(api, parties, first),
        release(api, parties, first),
        bonus(api, parties, contract["id"]),
        fund(api, parties, second),
    ):
        await change
        await pairs.same(1)
    assert set(written) == {"ContractEvent"}


async def test_milestone_updates_and_refusals_are_the_same_bytes_as_the_standard_executor_builds(
    api: Api, parties: Parties, runtime: Runtime, pairs: Pairs, written: list[str]
) -> None:
    # given
    contract = await active(api, parties, "100.00", "50.00")
    first, second = milestone_ids(contract)
    for member in (parties.client, parties.freelancer, parties.admin):
        await pairs.open(member.token, RICH_MILESTONES, "milestoneUpdated", id=contract["id"])
        await pairs.open(member.token, MILESTONE_UPDATED, "milestoneUpdated", id=contract["id"])
    await pairs.open(parties.freelancer.token, RICH_MILESTONES, "milestoneUpdated", id=None)
    for token in (parties.outsider.token, None, "mse_not-a-token"):
        for variables in ({"id": contract["id"]}, {"id": "not-an-id"}):
            refusals = [
                await _first(runtime, c, token, RICH_MILESTONES, variables) for c in (True, False)
            ]
            assert refusals[0] == refusals[1], (token, variables)
    # when / then
    for change in (
        fund(api, parties, first),
        submit(api, parties, first),
        release(api, parties, first),
        fund(api, parties, second),
    ):
        await change
        await pairs.same(1)
    assert set(written) == {"Milestone"}
