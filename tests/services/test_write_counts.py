"""A mutation's unit of work costs a fixed number of SQL statements and one connection, however
many milestones its contract has and however many other contracts there are.

Counted around the service call (`counting_statements`, `counting_checkouts` of
tests/services/test_query_counts.py): authentication and the payload's reads are not part of it.
Before issue 9 a fund cost 11 statements on 2 connections, a release 13 on 2, a createContract of
10 milestones 14 on 2 (one INSERT per milestone), an endContract one UPDATE per milestone.
On PostgreSQL the bus adds one `pg_notify` to each; the tests' bus is the in-process one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from app.domain import commands
from app.domain.errors import DomainError, ErrorCode
from app.services import contracts
from app.services.runtime import Runtime
from app.services.unit import Outcome
from tests.services.conftest import People
from tests.services.flows import Deal, fixed
from tests.services.test_query_counts import counting_checkouts, counting_statements

# the contract row locked and loaded (1), its milestones (1), the latest submissions of the
# active milestone (1, if there is one), the ledger's sums (1) and the pending refund requests
# (1); the pending change request too (1) for what may end the contract; disputes for the
# actions on a dispute only
LOAD = 4
LOAD_WITH_SUBMISSIONS = LOAD + 1
LOAD_TO_END = LOAD + 1
# the contract's version checked and bumped (1), and the new events (1)
SAVE = 2

STATEMENTS = {
    "createContract": 5,  # the freelancer, the contract, its milestones, their ids, the event
    "fund": LOAD + SAVE + 2,  # the milestone, the ledger entries
    "submit": LOAD_WITH_SUBMISSIONS + SAVE + 2,  # the milestone, the submission
    "release": LOAD_WITH_SUBMISSIONS + SAVE + 3,  # the milestone, the submission, the entries
    "payBonus": LOAD_WITH_SUBMISSIONS + SAVE + 3,  # the key looked up and stored, the entries
    "endContract": LOAD_TO_END + SAVE + 1,  # every milestone cancelled, in one statement
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
    for name, expected in STATEMENTS.items():
        counted = many[name].statements
        print(f"{name}: {len(counted)} statements, {len(many[name].checkouts)} checkouts")
        assert len(few[name].statements) == len(counted), (name, few[name], many[name])
        assert len(counted) == expected, (name, "\n".join(counted))


async def test_each_mutation_runs_on_one_connection(
    runtime: Runtime, people: People, other_contracts: None
) -> None:
    # when
    found = await costs(runtime, people, milestones=3)
    # then every statement ran in the one transaction
    assert {name: cost.checkouts for name, cost in found.items()} == {
        name: ["transaction"] for name in STATEMENTS
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
