"""Fixtures of the service tests: a contract's three people, the usual deal, and the books
checked after each test of a module that asks for it (`pytestmark = usefixtures(...)`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from app.services.runtime import Runtime
from tests.services.flows import Deal, books_ok
from tests.support import Person, make_person

M1 = 0  # the first milestone of `deal`


@dataclass(frozen=True)
class People:
    client: Person
    freelancer: Person
    outsider: Person


@pytest.fixture
async def people(db: None, runtime: Runtime) -> People:
    return People(
        client=await make_person(runtime, "Carol Client"),
        freelancer=await make_person(runtime, "Frank Freelancer"),
        outsider=await make_person(runtime, "Olga Outsider"),
    )


@pytest.fixture
async def deal(runtime: Runtime, people: People) -> Deal:
    """An active contract (100.00, then 50.00) whose first milestone is funded."""
    deal = await Deal.active(runtime, people.client.actor, people.freelancer.actor)
    await deal.fund(M1)
    return deal


@pytest.fixture
async def books_stay_right(db: None, runtime: Runtime) -> AsyncIterator[None]:
    """The ledger invariants of tests/services/books.py, checked after the test (a piece-rate
    milestone completed before any payment is CANCELLED with escrow that was funded,
    docs/concepts.md#piece-rate-milestones, and books.py knows it)."""
    yield
    await books_ok(runtime)
