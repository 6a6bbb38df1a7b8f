"""Test doubles and helpers shared by the test layers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from app.bootstrap import bootstrap
from app.domain.permissions import Actor
from app.services import accounts
from app.services.runtime import Runtime
from app.settings import load_settings

SECRET = "test-secret-key"


@dataclass
class FrozenClock:
    """A clock that moves only when told to."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 1, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def make_runtime(clock: FrozenClock) -> Runtime:
    """The runtime every entry point builds (app/bootstrap.py), from the default settings and
    a frozen clock. Its database URL names no server, so the bus is the in-process one: the
    tests' subscribers listen in the test process (the real database is the `db` fixture's)."""
    settings = load_settings(_env_file=None, SECRET_KEY=SECRET, DATABASE_URL="sqlite://:memory:")
    return bootstrap(settings, clock=clock)


@dataclass(frozen=True)
class Person:
    actor: Actor
    token: str
    email: str


async def make_person(runtime: Runtime, name: str, *, admin: bool = False) -> Person:
    email = f"{name.lower().replace(' ', '.')}@example.com"
    user = await accounts.create_user(
        name=name, email=email, password="correct horse battery", is_admin=admin
    )
    token = await accounts.issue_token_for(runtime, user.id, "test")
    return Person(actor=Actor(user.id, admin), token=token, email=email)
