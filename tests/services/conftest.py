"""Fixtures of the service tests: fast password hashing, and a contract's three people."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import pytest

from app.auth import passwords
from app.services import accounts
from app.services.runtime import Runtime
from tests.support import Person, make_person


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> Iterator[None]:
    """Hash each password once per session (argon2 costs ~0.1 s); the hashes stay real."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "hash_password", cache(passwords.hash_password))
        yield


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
