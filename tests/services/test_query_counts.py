"""The SPA's queries cost a fixed number of SQL statements, however many rows they show.

Statements are counted with a handler on the `tortoise.db_client` logger, which every
backend calls once per statement it sends (`log.debug("%s: %s", query, values)` in
`execute_insert`, `execute_many`, `execute_query` and `execute_query_dict`; `log.debug(query)`
in `execute_script`); its other debug lines say that a connection or pool was created or
closed and are not counted. Only the request being measured is counted, after a first request
with the same token: that one looks the token up and writes `lastUsedAt` (once a minute), and
the measured ones find it in the process's cache of principals, held for the test
(`principals_held`) so that a slow machine does not see it expire between two requests.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from tortoise import connections

from app.db import models
from app.domain import commands
from app.domain.commands import NewMilestone
from app.domain.permissions import Actor
from app.graphql.ids import encode_id
from app.services import contracts as services
from app.services.runtime import Runtime
from tests.api.client import Api
from tests.services.conftest import People

DASHBOARD = """
query Dashboard($first: Int!) {
  contracts(first: $first) {
    totalCount
    edges {
      node {
        id title status
        client { id name }
        freelancer { id name }
        escrow { held { amount } available { amount } totalFunded { amount } }
        milestones {
          id title status
          amount { amount }
          fundedAmount { amount }
          submissions { id message requestedAmount { amount } }
        }
      }
    }
  }
}
"""

DETAIL = """
query Detail($id: ID!) {
  contract(id: $id) {
    id title description status currency createdAt acceptedAt endedAt
    client { id name email }
    freelancer { id name email }
    activeMilestone { id status }
    escrow {
      held { amount } available { amount } totalFunded { amount }
      totalReleased { amount } totalRefunded { amount }
      entries(first: 50) {
        totalCount
        edges { node { id kind amount { amount } milestone { id title } } }
      }
    }
    milestones {
      id position title status autoReleaseAt
      amount { amount } fundedAmount { amount } releasedAmount { amount }
      submissions { id message status requestedAmount { amount } }
    }
    events(first: 50) {
      totalCount
      edges { node { sequence type amount { amount } actor { id name } milestone { id } } }
    }
  }
}
"""

# The numbers the lead quotes: statements per request, whatever the number of rows shown.
DASHBOARD_STATEMENTS = 6
DETAIL_STATEMENTS = 10

_CONNECTION_LINES = ("Created connection", "Closed connection")


class StatementCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str) and record.msg.startswith(_CONNECTION_LINES):
            return
        args = record.args
        statement = record.msg
        if record.msg == "%s: %s" and isinstance(args, tuple) and args:
            statement = args[0]
        self.statements.append(str(statement))


@contextmanager
def counting_statements() -> Iterator[list[str]]:
    logger = logging.getLogger("tortoise.db_client")
    counter = StatementCounter()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    try:
        yield counter.statements
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)


@contextmanager
def counting_checkouts() -> Iterator[list[str]]:
    """Each time a connection is taken from the pool (PostgreSQL) or the one connection is
    taken (SQLite): a statement outside a transaction takes one of its own, a transaction one
    for all of its statements. Both go through the root client, never through a transaction's."""
    root: Any = connections.get("default")
    checkouts: list[str] = []
    acquire, transaction = root.acquire_connection, root._in_transaction

    def acquire_connection() -> Any:
        checkouts.append("statement")
        return acquire()

    def in_transaction() -> Any:
        checkouts.append("transaction")
        return transaction()

    root.acquire_connection, root._in_transaction = acquire_connection, in_transaction
    try:
        yield checkouts
    finally:
        del root.acquire_connection, root._in_transaction


@pytest.fixture
def principals_held(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tokens looked up during the test stay known to the process until it ends."""
    monkeypatch.setattr(runtime.principals, "clock", lambda: 0.0)


async def statements_of(api: Api, token: str, query: str, variables: dict[str, Any]) -> list[str]:
    with counting_statements() as statements:
        data = await api.ok(query, variables, token)
    assert data
    return list(statements)


async def contract_in_review(
    runtime: Runtime, client: Actor, freelancer: Actor, milestones: int, rounds: int
) -> int:
    """An active contract whose first milestone was submitted `rounds` times."""
    command = commands.CreateContract(
        freelancer_id=freelancer.user_id,
        title="Dashboard row",
        description="",
        milestones=tuple(NewMilestone(title=f"M{i}", amount=50_00) for i in range(milestones)),
    )
    outcome = await services.create_contract(runtime, client, command)
    assert outcome.contract_id is not None
    if rounds:
        accept = commands.AcceptContract(contract_id=outcome.contract_id)
        await services.accept_contract(runtime, freelancer, accept)
        first = await models.Milestone.get(contract_id=outcome.contract_id, position=1)
        await services.fund_milestone(
            runtime, client, commands.FundMilestone(milestone_id=first.id)
        )
        for round_ in range(rounds):
            if round_:
                revise = commands.RequestRevision(milestone_id=first.id, message="Again")
                await services.request_revision(runtime, client, revise)
            submission = commands.SubmitMilestone(milestone_id=first.id, message=f"Round {round_}")
            await services.submit_milestone(runtime, freelancer, submission)
    return outcome.contract_id


@pytest.mark.usefixtures("principals_held")
async def test_the_dashboard_costs_the_same_statements_for_5_and_50_contracts(
    api: Api, runtime: Runtime, people: People
) -> None:
    # given: 50 contracts of 3 milestones, some offered, some in review with submissions
    client, freelancer = people.client.actor, people.freelancer.actor
    for i in range(50):
        await contract_in_review(runtime, client, freelancer, milestones=3, rounds=i % 3)
    token = people.client.token
    await api.ok(DASHBOARD, {"first": 1}, token)
    # when
    five = await statements_of(api, token, DASHBOARD, {"first": 5})
    fifty = await statements_of(api, token, DASHBOARD, {"first": 50})
    # then
    print(f"dashboard: {len(five)} statements for 5 contracts, {len(fifty)} for 50")
    assert len(five) == len(fifty), (five, fifty)
    assert len(fifty) == DASHBOARD_STATEMENTS, "\n".join(fifty)


async def test_the_dashboard_shows_every_row_it_counted(
    api: Api, runtime: Runtime, people: People
) -> None:
    # given
    client, freelancer = people.client.actor, people.freelancer.actor
    for i in range(6):
        await contract_in_review(runtime, client, freelancer, milestones=3, rounds=i % 3)
    # when
    data = await api.ok(DASHBOARD, {"first": 5}, people.client.token)
    # then
    page = data["contracts"]
    assert page["totalCount"] == 6
    assert len(page["edges"]) == 5
    submissions = [
        len(m["submissions"]) for edge in page["edges"] for m in edge["node"]["milestones"]
    ]
    assert len(submissions) == 15 and sum(submissions) > 0


@pytest.mark.usefixtures("principals_held")
async def test_a_contract_detail_costs_the_same_statements_however_big_it_is(
    api: Api, runtime: Runtime, people: People
) -> None:
    # given: a small contract and a bigger one, with more milestones, submissions and events
    client, freelancer = people.client.actor, people.freelancer.actor
    small = await contract_in_review(runtime, client, freelancer, milestones=1, rounds=1)
    big = await contract_in_review(runtime, client, freelancer, milestones=10, rounds=4)
    token = people.client.token
    await api.ok(DETAIL, {"id": encode_id("Contract", small)}, token)
    # when
    few = await statements_of(api, token, DETAIL, {"id": encode_id("Contract", small)})
    many = await statements_of(api, token, DETAIL, {"id": encode_id("Contract", big)})
    # then
    print(f"contract detail: {len(few)} statements (small), {len(many)} (big)")
    assert len(few) == len(many), (few, many)
    assert len(many) == DETAIL_STATEMENTS, "\n".join(many)
