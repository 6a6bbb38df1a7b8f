"""Idempotency keys at the service level (docs/concepts.md#money, docs/rules.md#milestones,
docs/rules.md#idempotency-keys).

A retry by the same user with the same key and input returns the first outcome (refusals
included) and moves no money again; the same key with any other input is
IDEMPOTENCY_KEY_REUSED; keys are scoped to (user, mutation) and kept at least 24 hours.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta

import pytest

from app.db import models
from app.domain import commands
from app.domain.commands import NewMilestone
from app.domain.errors import DomainError, ErrorCode
from app.domain.ledger import EntryKind
from app.domain.permissions import Actor
from app.services import contracts as services
from app.services import deadlines, requests
from app.services.runtime import Runtime
from app.services.unit import Outcome
from tests.services.books import check_books, snapshot
from tests.services.conftest import People
from tests.services.flows import typed_amount
from tests.support import FrozenClock, make_person


async def contract_with(
    runtime: Runtime, people: People, *amounts: str, accept: bool = True
) -> int:
    command = commands.CreateContract(
        freelancer_id=people.freelancer.actor.user_id,
        title="Keyed work",
        milestones=tuple(
            NewMilestone(title=f"Part {i}", **typed_amount("amount", a))
            for i, a in enumerate(amounts)
        ),
    )
    outcome = await services.create_contract(runtime, people.client.actor, command)
    assert outcome.contract_id is not None
    if accept:
        accepted = commands.AcceptContract(contract_id=outcome.contract_id)
        await services.accept_contract(runtime, people.freelancer.actor, accepted)
    return outcome.contract_id


async def milestone_ids(contract_id: int) -> list[int]:
    rows = await models.Milestone.filter(contract_id=contract_id).order_by("position")
    return [row.id for row in rows]


async def ledger(contract_id: int) -> list[tuple[str, int]]:
    return [
        (kind, amount)
        for kind, amount in await models.LedgerEntry.filter(contract_id=contract_id)
        .order_by("id")
        .values_list("kind", "amount")
    ]


async def rows() -> tuple[int, ...]:
    """How many rows each table that a use case writes holds."""
    return (
        await models.LedgerEntry.all().count(),
        await models.ContractEvent.all().count(),
        await models.Submission.all().count(),
        await models.IdempotencyKey.all().count(),
        sum(version for (version,) in await models.Contract.all().values_list("version")),
    )


async def refusal(step: Awaitable[object]) -> tuple[ErrorCode, tuple[str, ...] | None]:
    with pytest.raises(DomainError) as caught:
        await step
    (problem,) = caught.value.problems
    return problem.code, problem.field


def release(
    runtime: Runtime,
    actor: Actor,
    milestone_id: int,
    *,
    amount: str | None = None,
    end_contract: bool = False,
    key: str | None = "release-1",
) -> Awaitable[Outcome]:
    command = commands.ReleaseMilestone(
        milestone_id=milestone_id,
        end_contract=end_contract,
        idempotency_key=key,
        **typed_amount("amount", amount),
    )
    return services.release_milestone(runtime, actor, command)


def fund(runtime: Runtime, actor: Actor, milestone_id: int, key: str | None) -> Awaitable[Outcome]:
    command = commands.FundMilestone(milestone_id=milestone_id, idempotency_key=key)
    return services.fund_milestone(runtime, actor, command)


def bonus(
    runtime: Runtime,
    actor: Actor,
    contract_id: int,
    *,
    amount: str = "10.00",
    note: str | None = "Thanks",
    key: str | None = "bonus-1",
) -> Awaitable[Outcome]:
    command = commands.PayBonus(
        contract_id=contract_id, note=note, idempotency_key=key, **typed_amount("amount", amount)
    )
    return services.pay_bonus(runtime, actor, command)


# --- a retry replays the first outcome and moves no money -----------------------------------


async def test_a_funding_retried_with_its_key_charges_once(
    runtime: Runtime, people: People
) -> None:
    # given
    contract = await contract_with(runtime, people, "100.00", "50.00")
    first, _ = await milestone_ids(contract)
    client = people.client.actor
    outcome = await fund(runtime, client, first, "fund-1")
    written = await rows()
    # when
    retried = await fund(runtime, client, first, "fund-1")
    # then
    assert retried == outcome == Outcome(contract_id=contract, milestone_id=first)
    assert await rows() == written
    assert await ledger(contract) == [
        ("FUNDING", 10_000),
        ("PROCESSING_FEE", 300),
        ("INITIATION_FEE", 495),
    ]
    # and: without the key the same request is a refusal, not a second charge
    assert await refusal(fund(runtime, client, first, None)) == (
        ErrorCode.INVALID_STATE,
        ("milestone_id",),
    )


async def test_a_release_retried_with_its_key_pays_once(runtime: Runtime, people: People) -> None:
    # given
    contract = await contract_with(runtime, people, "100.00", "50.00")
    first, _ = await milestone_ids(contract)
    client = people.client.actor
    await fund(runtime, client, first, None)
    outcome = await release(runtime, client, first, amount="60.00")
    written = await rows()
    # when
    retried = [await release(runtime, client, first, amount="60.00") for _ in range(3)]
    # then
    assert retried == [outcome] * 3
    assert not outcome.problems
    assert await rows() == written
    releases = await models.LedgerEntry.filter(contract_id=contract, kind=EntryKind.RELEASE)
    assert [entry.amount for entry in releases] == [6_000]
    check_books(await snapshot(), runtime.policy)


async def test_a_bonus_retried_with_its_key_is_paid_once(runtime: Runtime, people: People) -> None:
    # given
    contract = await contract_with(runtime, people, "100.00")
    client = people.client.actor
    outcome = await bonus(runtime, client, contract)
    written = await rows()
    # when
    retried = await bonus(runtime, client, contract)
    # then
    assert retried == outcome
    assert await rows() == written
    assert await ledger(contract) == [
        ("BONUS", 1_000),
        ("PROCESSING_FEE", 30),
        ("SERVICE_FEE", 100),
    ]


async def test_a_dispute_resolution_retried_with_its_key_splits_once(
    runtime: Runtime, people: People
) -> None:
    # given
    admin = (await make_person(runtime, "Ada Admin", admin=True)).actor
    contract = await contract_with(runtime, people, "100.00")
    (milestone,) = await milestone_ids(contract)
    await fund(runtime, people.client.actor, milestone, None)
    opening = commands.OpenDispute(milestone_id=milestone, reason="Unpaid")
    opened = await requests.open_dispute(runtime, people.freelancer.actor, opening)
    assert opened.dispute_id is not None

    def resolve() -> Awaitable[Outcome]:
        command = commands.ResolveDispute(
            dispute_id=opened.dispute_id or 0,
            freelancer_amount=70_00,
            client_amount=30_00,
            note="Split",
            idempotency_key="resolve-1",
        )
        return requests.resolve_dispute(runtime, admin, command)

    outcome = await resolve()
    written = await rows()
    # when
    retried = await resolve()
    # then
    assert retried == outcome
    assert not outcome.problems
    assert await rows() == written
    split = sorted(e for e in await ledger(contract) if e[0] in ("RELEASE", "REFUND"))
    assert split == [("REFUND", 3_000), ("RELEASE", 7_000)]
    check_books(await snapshot(), runtime.policy)


async def test_a_retry_after_the_contract_ended_still_returns_the_first_success(
    runtime: Runtime, people: People
) -> None:
    # given: the release that ended the contract
    contract = await contract_with(runtime, people, "100.00")
    (milestone,) = await milestone_ids(contract)
    client = people.client.actor
    await fund(runtime, client, milestone, None)
    outcome = await release(runtime, client, milestone, end_contract=True)
    assert (await models.Contract.get(id=contract)).status == "ENDED"
    # when
    retried = await release(runtime, client, milestone, end_contract=True)
    # then
    assert retried == outcome
    assert not retried.problems


# --- a refusal is replayed too (§6.37) ------------------------------------------------------


async def test_a_refused_release_is_replayed_after_the_milestone_was_funded(
    runtime: Runtime, people: People
) -> None:
    # given: a release of a milestone that is not funded yet, under a key
    contract = await contract_with(runtime, people, "100.00")
    (milestone,) = await milestone_ids(contract)
    client = people.client.actor
    refused = await release(runtime, client, milestone, key="early")
    assert [(p.code, p.field) for p in refused.problems] == [
        (ErrorCode.INVALID_STATE, ("milestone_id",))
    ]
    assert await ledger(contract) == []
    # when: the milestone gets funded, and the client retries with the same key
    await fund(runtime, client, milestone, None)
    written = await rows()
    retried = await release(runtime, client, milestone, key="early")
    # then: the stored refusal comes back, nothing is released
    assert retried == refused
    assert await rows() == written
    assert not await models.LedgerEntry.filter(contract_id=contract, kind=EntryKind.RELEASE)
    # and: a new key releases
    assert not (await release(runtime, client, milestone, key="later")).problems


async def test_an_invalid_amount_under_a_key_is_stored_and_replayed(
    runtime: Runtime, people: People
) -> None:
    contract = await contract_with(runtime, people, "100.00")
    client = people.client.actor
    first = await bonus(runtime, client, contract, amount="1.001", key="bad")
    again = await bonus(runtime, client, contract, amount="1.001", key="bad")
    assert [(p.code, p.field) for p in first.problems] == [(ErrorCode.INVALID_AMOUNT, ("amount",))]
    assert again == first
    assert await ledger(contract) == []
    assert await models.IdempotencyKey.filter(key="bad").count() == 1


# --- the same key with other input ----------------------------------------------------------


@pytest.mark.parametrize(
    ("changed", "retry"),
    [
        ("amount", {"amount": "60.01"}),
        ("amount left out", {"amount": None}),
        ("end_contract", {"amount": "60.00", "end_contract": True}),
    ],
)
async def test_a_release_key_reused_with_other_input_is_refused(
    runtime: Runtime, people: People, changed: str, retry: dict[str, object]
) -> None:
    # given
    contract = await contract_with(runtime, people, "100.00")
    (milestone,) = await milestone_ids(contract)
    client = people.client.actor
    await fund(runtime, client, milestone, None)
    await release(runtime, client, milestone, amount="60.00")
    written = await rows()
    # when / then
    step = release(runtime, client, milestone, **retry)  # type: ignore[arg-type]
    assert await refusal(step) == (ErrorCode.IDEMPOTENCY_KEY_REUSED, ("idempotency_key",)), changed
    assert await rows() == written


async def test_a_release_key_reused_on_another_milestone_is_refused(
    runtime: Runtime, people: People
) -> None:
    first_contract = await contract_with(runtime, people, "100.00")
    other_contract = await contract_with(runtime, people, "100.00")
    (first,) = await milestone_ids(first_contract)
    (other,) = await milestone_ids(other_contract)
    client = people.client.actor
    for milestone in (first, other):
        await fund(runtime, client, milestone, None)
    await release(runtime, client, first)
    assert await refusal(release(runtime, client, other)) == (
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        ("idempotency_key",),
    )
    assert not await models.LedgerEntry.filter(milestone_id=other, kind=EntryKind.RELEASE)


async def test_a_bonus_key_reused_with_another_note_is_refused(
    runtime: Runtime, people: People
) -> None:
    contract = await contract_with(runtime, people, "100.00")
    client = people.client.actor
    await bonus(runtime, client, contract, note="Thanks")
    assert await refusal(bonus(runtime, client, contract, note="Thanks!")) == (
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        ("idempotency_key",),
    )
    assert await refusal(bonus(runtime, client, contract, note=None)) == (
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        ("idempotency_key",),
    )
    assert [k for k, _ in await ledger(contract)].count("BONUS") == 1


# --- scope, size and lifetime of a key ------------------------------------------------------


async def test_a_key_is_scoped_to_the_mutation(runtime: Runtime, people: People) -> None:
    contract = await contract_with(runtime, people, "100.00")
    (milestone,) = await milestone_ids(contract)
    client = people.client.actor
    funded = await fund(runtime, client, milestone, "same")
    paid = await bonus(runtime, client, contract, key="same")
    released = await release(runtime, client, milestone, key="same")
    assert not (funded.problems or paid.problems or released.problems)
    kinds = [kind for kind, _ in await ledger(contract)]
    assert (kinds.count("FUNDING"), kinds.count("BONUS"), kinds.count("RELEASE")) == (1, 1, 1)


async def test_a_key_is_scoped_to_the_user(runtime: Runtime, people: People) -> None:
    # given: the freelancer of the first contract is the client of a second one
    first = await contract_with(runtime, people, "100.00")
    reverse = People(client=people.freelancer, freelancer=people.client, outsider=people.outsider)
    second = await contract_with(runtime, reverse, "100.00")
    # when: both clients pay a bonus with the same key
    one = await bonus(runtime, people.client.actor, first, key="shared")
    two = await bonus(runtime, people.freelancer.actor, second, key="shared")
    # then: both were paid
    assert not one.problems and not two.problems
    assert one.contract_id == first and two.contract_id == second
    assert await models.IdempotencyKey.filter(key="shared").count() == 2


async def test_a_key_of_255_characters_is_accepted_and_256_is_invalid_input(
    runtime: Runtime, people: People
) -> None:
    contract = await contract_with(runtime, people, "100.00")
    client = people.client.actor
    assert not (await bonus(runtime, client, contract, key="k" * 255)).problems
    assert await refusal(bonus(runtime, client, contract, key="k" * 256)) == (
        ErrorCode.INVALID_INPUT,
        ("idempotency_key",),
    )
    assert await models.IdempotencyKey.filter(user_id=client.user_id).count() == 1


async def test_a_contract_the_caller_may_not_see_is_not_found_with_or_without_a_key(
    runtime: Runtime, people: People
) -> None:
    contract = await contract_with(runtime, people, "100.00")
    outsider = people.outsider.actor
    for _ in range(2):
        assert (await refusal(bonus(runtime, outsider, contract, key="peek")))[0] is (
            ErrorCode.NOT_FOUND
        )
    assert await models.IdempotencyKey.filter(user_id=outsider.user_id).count() == 0


async def test_only_the_client_may_use_a_key_to_release(runtime: Runtime, people: People) -> None:
    contract = await contract_with(runtime, people, "100.00")
    (milestone,) = await milestone_ids(contract)
    await fund(runtime, people.client.actor, milestone, None)
    freelancer = people.freelancer.actor
    for _ in range(2):
        assert (await refusal(release(runtime, freelancer, milestone)))[0] is (
            ErrorCode.NOT_PERMITTED
        )
    assert not await models.LedgerEntry.filter(milestone_id=milestone, kind=EntryKind.RELEASE)


async def test_a_key_is_kept_for_at_least_24_hours(
    runtime: Runtime, people: People, clock: FrozenClock
) -> None:
    # given
    contract = await contract_with(runtime, people, "100.00")
    client = people.client.actor
    outcome = await bonus(runtime, client, contract)
    # when: a day passes and the deadline job (which also forgets old keys) runs
    clock.advance(timedelta(hours=24))
    await deadlines.run_due(runtime)
    # then: the retry still replays
    assert await bonus(runtime, client, contract) == outcome
    assert [kind for kind, _ in await ledger(contract)].count("BONUS") == 1
