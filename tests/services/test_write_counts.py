"""A mutation's unit of work costs a fixed number of SQL statements and one connection, however
many milestones its contract has and however many other contracts there are.

Counted around the service call (`counting_statements`, `counting_checkouts` of
tests/services/test_query_counts.py): authentication and the payload's reads are not part of it.
Before issue 9 a fund cost 11 statements on 2 connections, a release 13 on 2, a createContract of
10 milestones 14 on 2 (one INSERT per milestone), an endContract one UPDATE per milestone; before
the write path sent its own SQL text (app/services/statements.py), a createContract cost 5, a
submit 9, a release and a payBonus 10 each.
The tests' bus is the in-process one; on PostgreSQL the bus's `pg_notify` goes in the batch of the
writes (test_on_postgresql_the_notice_goes_with_the_writes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from tortoise import connections

from app.domain import commands
from app.domain.errors import DomainError, ErrorCode
from app.events.bus import PostgresBus
from app.services import contracts
from app.services.runtime import Runtime
from app.services.statements import is_postgres
from app.services.unit import Outcome
from tests.services.conftest import People
from tests.services.flows import Deal, fixed
from tests.services.test_query_counts import counting_checkouts, counting_statements

# the contract row locked and loaded in one statement with its ledger's sums, its milestones (the
# active one with its latest submission) and the requests the action reads (the pending refund
# requests; the pending change request too for what may end the contract; disputes for the
# actions on a dispute only); read again, under the lock, only if the contract changed while the
# statement waited for it (tests/services/test_concurrency.py)
LOAD = 1


# what the new events owe (app/services/event_outbox.py): their notifications, and the first
# attempts for the parties' webhook endpoints (an INSERT ... SELECT that finds the endpoints)
OUTBOX = ("the notifications", "the webhook deliveries")


def save(*writes: str) -> int:
    """What writing back costs: the contract's version checked and bumped, the new events, what
    they owe and the `writes`, one statement each; on PostgreSQL one for all
    (`statements.Batch`)."""
    return 1 if is_postgres(connections.get("default")) else 2 + len(OUTBOX) + len(writes)


def expected() -> dict[str, int]:
    return {
        # the contract if the freelancer exists; its milestones, the event and what it owes
        "createContract": 1 + (1 if is_postgres(connections.get("default")) else 2 + len(OUTBOX)),
        "fund": LOAD + save("the milestone", "the ledger entries"),
        "submit": LOAD + save("the milestone", "the submission"),
        "release": LOAD + save("the milestone", "the submission", "the entries"),
        # the key looked up and stored, around the save
        "payBonus": LOAD + 2 + save("the entries"),
        # every milestone cancelled (in one statement of its own on SQLite)
        "endContract": LOAD + save("the milestones"),
    }


@dataclass(frozen=True)
class Cost:
    statements: list[str]
    checkouts: list[str]


async def cost_of(step: Callable[[], Awaitable[Outcome]]) -> Cost:
    with counting_statements() as statements, counting_checkouts() as checkouts:
        outcome = await step()
    assert not outcome.problems, outcome.problems
    return Cost(list(statements), list(checkouts))


async def costs(runtime: Runtime, people: People, milestones: int) -> dict[str, Cost]:
    """What each mutation costs on a contract of that many milestones."""
    client, freelancer = people.client.actor, people.freelancer.actor
    drafts = [fixed("10.00", f"M{i}") for i in range(milestones)]
    create = commands.CreateContract(
        freelancer_id=freelancer.user_id, title="Counted", milestones=tuple(drafts)
    )
    offer = await cost_of(lambda: contracts.create_contract(runtime, client, create))
    found = {"createContract": offer}
    deal = await Deal.active(runtime, client, freelancer, *drafts)
    found["fund"] = await cost_of(deal.fund)
    found["submit"] = await cost_of(deal.submit)
    key = f"bonus-{milestones}"
    bonus = commands.PayBonus(contract_id=deal.id, amount=5_00, idempotency_key=key)
    found["payBonus"] = await cost_of(lambda: contracts.pay_bonus(runtime, client, bonus))
    found["release"] = await cost_of(deal.release)
    found["endContract"] = await cost_of(deal.end)
    return found


@pytest.fixture
async def other_contracts(runtime: Runtime, people: People) -> None:
    """Contracts of the same people that the counted ones must not cost anything for."""
    for _ in range(5):
        deal = await Deal.active(runtime, people.client.actor, people.freelancer.actor)
        await deal.fund()
        await deal.submit()


async def test_each_mutation_costs_the_same_statements_for_2_and_10_milestones(
    runtime: Runtime, people: People, other_contracts: None
) -> None:
    # when
    few = await costs(runtime, people, milestones=2)
    many = await costs(runtime, people, milestones=10)
    # then
    for name, count in expected().items():
        counted = many[name].statements
        print(f"{name}: {len(counted)} statements, {len(many[name].checkouts)} checkouts")
        assert len(few[name].statements) == len(counted), (name, few[name], many[name])
        assert len(counted) == count, (name, "\n".join(counted))


async def test_on_postgresql_the_notice_goes_with_the_writes(
    runtime: Runtime, people: People
) -> None:
    if not is_postgres(connections.get("default")):
        pytest.skip("the bus notifies through PostgreSQL only")
    # given the bus of a server on PostgreSQL (it publishes without listening)
    on_postgres = dataclasses.replace(runtime, bus=PostgresBus("postgres://unused"))
    deal = await Deal.active(on_postgres, people.client.actor, people.freelancer.actor)
    # when
    cost = await cost_of(deal.fund)
    # then the notice is one more part of the one statement that writes
    assert len(cost.statements) == LOAD + save(), cost.statements
    assert "pg_notify" in cost.statements[-1], cost.statements


async def test_each_mutation_runs_on_one_connection(
    runtime: Runtime, people: People, other_contracts: None
) -> None:
    # when
    found = await costs(runtime, people, milestones=3)
    # then every statement ran in the one transaction
    assert {name: cost.checkouts for name, cost in found.items()} == {
        name: ["transaction"] for name in expected()
    }


async def test_a_milestone_that_is_not_there_is_not_found_on_one_connection(
    runtime: Runtime, people: People
) -> None:
    # given
    deal = await Deal.active(runtime, people.client.actor, people.freelancer.actor)
    command = commands.FundMilestone(milestone_id=deal.ids[-1] + 1_000)
    # when
    with (
        counting_statements() as statements,
        counting_checkouts() as checkouts,
        pytest.raises(DomainError) as refused,
    ):
        await contracts.fund_milestone(runtime, people.client.actor, command)
    # then
    assert [(p.code, p.field) for p in refused.value.problems] == [
        (ErrorCode.NOT_FOUND, ("milestone_id",))
    ]
    assert (len(statements), checkouts) == (1, ["transaction"])
