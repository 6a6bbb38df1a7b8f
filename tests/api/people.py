"""The people of a contract, as the API knows them."""

from __future__ import annotations

from dataclasses import dataclass

from app.graphql.ids import encode_id
from app.services.runtime import Runtime
from tests.support import make_person


@dataclass(frozen=True)
class Member:
    name: str
    token: str
    id: str
    email: str


@dataclass(frozen=True)
class Parties:
    client: Member
    freelancer: Member
    outsider: Member
    admin: Member


async def join(runtime: Runtime, name: str, *, admin: bool = False) -> Member:
    """A new user with a full-scope token, and their global id."""
    person = await make_person(runtime, name, admin=admin)
    user_id = encode_id("User", person.actor.user_id)
    return Member(name=name, token=person.token, id=user_id, email=person.email)
