"""Concurrent requests on one milestone move money once (docs/concepts.md, docs/rules.md#milestones,
docs/rules.md#idempotency-keys).

The requests go through the whole app in-process (`api` fixture), all at once with
`asyncio.gather`. On PostgreSQL they really overlap, and the contract's row lock
(`SELECT ... FOR UPDATE`) with the version check is what keeps them apart; SQLite serialises
transactions on its one connection, so there the tests check the same outcome more cheaply.
(Behind both, the unique (contract_id, sequence) of events makes a racing writer retry: with
the lock and the version check both disabled, these tests still pass on PostgreSQL.)
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from app.db import models
from app.domain import commands
from app.domain.ledger import EntryKind
from app.domain.permissions import Actor
from app.graphql.ids import encode_id
from app.services import contracts as services
from app.services.runtime import Runtime
from tests.api.client import Api
from tests.conftest import is_postgres
from tests.services.books import check_books, snapshot
from tests.services.conftest import People
from tests.services.flows import fixed

RELEASE = """
mutation Release($input: ReleaseMilestoneInput!) {
  releaseMilestone(input: $input) {
    milestone { id status fundedAmount { amount } releasedAmount { amount } }
    contract {
      id status
      escrow {
        held { amount } available { amount } totalFunded { amount } totalReleased { amount }
      }
    }
    userErrors { code message field }
  }
}
"""

FUND = """
mutation Fund($input: FundMilestoneInput!) {
  fundMilestone(input: $input) {
    milestone { id status fundedAmount { amount } }
    contract { id escrow { held { amount } totalFunded { amount } } }
    userErrors { code message field }
  }
}
"""

CALLS = 20


async def active_contract(runtime: Runtime, people: People, *amounts: str) -> list[int]:
    """An accepted contract between the client and the freelancer; its milestone ids."""
    client, freelancer = people.client.actor, people.freelancer.actor
    command = commands.CreateContract(
        freelancer_id=freelancer.user_id,
        title="Concurrent work",
        milestones=tuple(fixed(a, f"Part {i}") for i, a in enumerate(amounts)),
    )
    outcome = await services.create_contract(runtime, client, command)
    assert outcome.contract_id is not None
    accept = commands.AcceptContract(contract_id=outcome.contract_id)
    await services.accept_contract(runtime, freelancer, accept)
    rows = await models.Milestone.filter(contract_id=outcome.contract_id).order_by("position")
    return [row.id for row in rows]


async def fund(runtime: Runtime, client: Actor, milestone_id: int) -> None:
    await services.fund_milestone(
        runtime, client, commands.FundMilestone(milestone_id=milestone_id)
    )


def mid(milestone_id: int) -> str:
    return encode_id("Milestone", milestone_id)


async def all_at_once(
    api: Api, token: str, query: str, inputs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Send every request concurrently; the payload of each, in order."""
    results = await asyncio.gather(*(api.raw(query, {"input": i}, token) for i in inputs))
    payloads = []
    for result in results:
        assert not result.errors, result.errors
        assert result.data is not None
        (payload,) = result.data.values()
        payloads.append(payload)
    return payloads


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


async def entries(kind: EntryKind, milestone_id: int) -> list[int]:
    rows = await models.LedgerEntry.filter(kind=kind, milestone_id=milestone_id).values_list(
        "amount"
    )
    return [amount for (amount,) in rows]


async def books_balance(runtime: Runtime) -> None:
    check_books(await snapshot(), runtime.policy)


async def test_concurrent_releases_of_one_milestone_pay_once(
    api: Api, runtime: Runtime, people: People
) -> None:
    # given
    (milestone, _) = await active_contract(runtime, people, "100.00", "50.00")
    await fund(runtime, people.client.actor, milestone)
    # when
    payloads = await all_at_once(
        api, people.client.token, RELEASE, [{"milestoneId": mid(milestone)}] * CALLS
    )
    # then
    succeeded = [p for p in payloads if not p["userErrors"]]
    refused = [p for p in payloads if p["userErrors"]]
    assert len(succeeded) == 1, payloads
    assert succeeded[0]["milestone"]["status"] == "RELEASED"
    assert succeeded[0]["milestone"]["releasedAmount"]["amount"] == "100.00"
    assert [codes(p) for p in refused] == [["INVALID_STATE"]] * (CALLS - 1)
    assert await entries(EntryKind.RELEASE, milestone) == [10_000]
    assert await entries(EntryKind.SERVICE_FEE, milestone) == [1_000]
    await books_balance(runtime)


async def test_concurrent_releases_of_more_than_funded_charge_the_difference_once(
    api: Api, runtime: Runtime, people: People
) -> None:
    # given
    (milestone,) = await active_contract(runtime, people, "100.00")
    await fund(runtime, people.client.actor, milestone)
    # when
    release = {"milestoneId": mid(milestone), "amount": "130.00", "endContract": True}
    payloads = await all_at_once(api, people.client.token, RELEASE, [release] * CALLS)
    # then
    assert sorted(codes(p) for p in payloads) == [[]] + [["INVALID_STATE"]] * (CALLS - 1)
    assert await entries(EntryKind.RELEASE, milestone) == [13_000]
    assert sorted(await entries(EntryKind.FUNDING, milestone)) == [3_000, 10_000]
    contract = await models.Contract.get(milestones__id=milestone)
    assert contract.status == "ENDED"
    await books_balance(runtime)


async def test_concurrent_fundings_of_one_milestone_charge_once(
    api: Api, runtime: Runtime, people: People
) -> None:
    # given
    (milestone, _) = await active_contract(runtime, people, "100.00", "50.00")
    # when
    payloads = await all_at_once(
        api, people.client.token, FUND, [{"milestoneId": mid(milestone)}] * CALLS
    )
    # then
    succeeded = [p for p in payloads if not p["userErrors"]]
    assert len(succeeded) == 1, payloads
    assert succeeded[0]["milestone"]["status"] == "FUNDED"
    assert sorted(codes(p) for p in payloads if p["userErrors"]) == [["INVALID_STATE"]] * (
        CALLS - 1
    )
    assert await entries(EntryKind.FUNDING, milestone) == [10_000]
    assert await entries(EntryKind.PROCESSING_FEE, milestone) == [300]
    assert await entries(EntryKind.INITIATION_FEE, milestone) == [495]
    await books_balance(runtime)


async def test_concurrent_retries_with_one_idempotency_key_replay_the_first_release(
    api: Api, runtime: Runtime, people: People
) -> None:
    # given
    (milestone, _) = await active_contract(runtime, people, "100.00", "50.00")
    await fund(runtime, people.client.actor, milestone)
    release = {"milestoneId": mid(milestone), "amount": "60.00", "idempotencyKey": "pay-once"}
    # when
    payloads = await all_at_once(api, people.client.token, RELEASE, [release] * 10)
    # then
    assert payloads[0]["userErrors"] == []
    assert payloads[0]["milestone"]["releasedAmount"]["amount"] == "60.00"
    assert payloads[0]["contract"]["escrow"]["available"]["amount"] == "40.00"
    assert all(p == payloads[0] for p in payloads), payloads
    assert await entries(EntryKind.RELEASE, milestone) == [6_000]
    assert await models.IdempotencyKey.filter(key="pay-once").count() == 1
    await books_balance(runtime)


async def test_concurrent_retries_with_one_idempotency_key_fund_once(
    api: Api, runtime: Runtime, people: People
) -> None:
    # given
    (milestone, _) = await active_contract(runtime, people, "100.00", "50.00")
    fund_once = {"milestoneId": mid(milestone), "idempotencyKey": "fund-once"}
    # when
    payloads = await all_at_once(api, people.client.token, FUND, [fund_once] * 10)
    # then
    assert payloads[0]["userErrors"] == []
    assert all(p == payloads[0] for p in payloads), payloads
    assert await entries(EntryKind.FUNDING, milestone) == [10_000]
    await books_balance(runtime)


async def test_concurrent_steps_on_different_contracts_do_not_interfere(
    api: Api, runtime: Runtime, people: People
) -> None:
    # given: five contracts, each with a funded first milestone
    contracts = [await active_contract(runtime, people, "100.00", "50.00") for _ in range(5)]
    for first, _ in contracts:
        await fund(runtime, people.client.actor, first)
    # when: every first milestone is released (part of it) at the same time, twice over
    releases = [{"milestoneId": mid(first), "amount": "40.00"} for first, _ in contracts] * 2
    payloads = await all_at_once(api, people.client.token, RELEASE, releases)
    # then: one release per contract went through, the other was refused
    for i, (first, _) in enumerate(contracts):
        pair = [codes(payloads[i]), codes(payloads[i + len(contracts)])]
        assert sorted(pair) == [[], ["INVALID_STATE"]], pair
        assert await entries(EntryKind.RELEASE, first) == [4_000]
    # when: every second milestone is funded from the 60.00 left available, at the same time
    fundings = [{"milestoneId": mid(second)} for _, second in contracts]
    payloads = await all_at_once(api, people.client.token, FUND, fundings)
    # then: rollover covered each funding, nothing was charged
    assert [codes(p) for p in payloads] == [[]] * len(contracts)
    for _, second in contracts:
        assert await entries(EntryKind.FUNDING, second) == []
    await books_balance(runtime)


async def wait_for_blocked_query(conn: asyncpg.Connection) -> str:
    """The statement of the (only) other session of this database that waits for a lock."""
    for _ in range(100):
        rows = await conn.fetch(
            "SELECT query FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if rows:
            assert len(rows) == 1, rows
            return str(rows[0]["query"])
        await asyncio.sleep(0.05)
    raise AssertionError("no session waited for the lock")


@pytest.mark.postgres_only
@pytest.mark.skipif(not is_postgres(), reason="row locks need PostgreSQL")
async def test_a_locked_contract_blocks_its_own_steps_only(
    api: Api, runtime: Runtime, people: People, db_url: str
) -> None:
    # given: two contracts with a funded milestone each
    (blocked, _) = await active_contract(runtime, people, "100.00", "50.00")
    (free, _) = await active_contract(runtime, people, "100.00", "50.00")
    for milestone in (blocked, free):
        await fund(runtime, people.client.actor, milestone)
    blocked_contract = await models.Contract.get(milestones__id=blocked)
    token = people.client.token
    # when: another session holds the first contract's row lock
    holder = await asyncpg.connect(db_url)
    try:
        lock = holder.transaction()
        await lock.start()
        await holder.execute(
            "SELECT id FROM contracts WHERE id = $1 FOR UPDATE", blocked_contract.id
        )
        waiting = asyncio.create_task(
            api.raw(RELEASE, {"input": {"milestoneId": mid(blocked)}}, token)
        )
        # then: the other contract is released at once, the locked one waits
        other = await asyncio.wait_for(
            api.raw(RELEASE, {"input": {"milestoneId": mid(free)}}, token), timeout=10
        )
        assert other.data is not None
        assert other.data["releaseMilestone"]["userErrors"] == []
        blocked_on = await wait_for_blocked_query(holder)
        assert not waiting.done()
        # ...on the row lock its first statement takes as it reads the contract, not on a later
        # write (pg_stat_activity shows the statement's first 1,024 bytes, not its FOR UPDATE)
        assert blocked_on.startswith("SELECT id, title, description"), blocked_on
        assert "FROM contracts s WHERE s.id = contracts.id" in blocked_on, blocked_on
        assert await entries(EntryKind.RELEASE, blocked) == []
        await lock.rollback()
    finally:
        await holder.close()
    # and: once the lock is gone the waiting release goes through
    result = await asyncio.wait_for(waiting, timeout=10)
    assert result.data is not None
    assert result.data["releaseMilestone"]["userErrors"] == []
    assert await entries(EntryKind.RELEASE, blocked) == [10_000]
    await books_balance(runtime)
