"""The process's cache of principals (`Runtime.principals`, app/services/principals.py): a token
asked again within a second costs no statement, a revocation on another process takes effect within
a second, one on this process at once, a session still expires at its hour exactly, and
`lastUsedAt` is written at most once a minute.

"Another process" revokes by writing the row, as `revokeApiToken` there does; this process's
cache is told nothing of it. The cache's clock is the test's (`Ticking`), so nothing sleeps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta

import pytest

from app.auth.tokens import token_digest
from app.db import models
from app.graphql.ids import decode_id
from app.services import accounts
from app.services.principals import Principals
from app.services.runtime import Runtime
from tests.api.client import Api
from tests.api.operations import create_api_token, revoke_api_token
from tests.api.people import Parties
from tests.services.test_query_counts import counting_statements
from tests.support import FrozenClock

VIEWER = "query { viewer { name } }"


@dataclass
class Ticking:
    """Seconds of real time, as the cache sees them."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def seconds(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Ticking:
    ticking = Ticking()
    monkeypatch.setattr(runtime.principals, "clock", ticking)
    return ticking


async def _new_token(api: Api, parties: Parties) -> tuple[str, str]:
    """A new token of the client's: its secret and its global id."""
    created = await create_api_token(api, parties.client.token, "laptop", ["READ", "WRITE"])
    return created["token"], created["apiToken"]["id"]


async def test_a_token_asked_again_within_a_second_costs_no_statement(
    runtime: Runtime, parties: Parties, seconds: Ticking
) -> None:
    # given a token looked up once
    assert await accounts.authenticate(runtime, parties.client.token) is not None
    # when it is asked again within the second
    seconds.now += 0.9
    with counting_statements() as statements:
        principal = await accounts.authenticate(runtime, parties.client.token)
    # then
    assert principal is not None and statements == []


async def test_each_runtime_keeps_its_own_cache(
    runtime: Runtime, parties: Parties, seconds: Ticking
) -> None:
    # given a token looked up by this process
    assert await accounts.authenticate(runtime, parties.client.token) is not None
    # when another runtime (another process, as far as the cache goes) asks within the second
    other = dataclasses.replace(runtime, principals=Principals(clock=seconds))
    with counting_statements() as statements:
        principal = await accounts.authenticate(other, parties.client.token)
    # then it asks the database itself
    assert principal is not None and len(statements) == 1, statements


async def test_a_token_revoked_on_another_process_stops_working_within_a_second(
    api: Api, parties: Parties, seconds: Ticking, clock: FrozenClock
) -> None:
    # given a token this process has just used
    secret, token_id = await _new_token(api, parties)
    await api.ok(VIEWER, token=secret)
    # when another process revokes it
    await models.ApiToken.filter(id=decode_id(token_id, "ApiToken")).update(revoked_at=clock())
    # then it may work for what is left of the second, and not after it
    seconds.now += 0.5
    assert (await api.raw(VIEWER, token=secret)).codes == []
    seconds.now += 0.5
    assert (await api.raw(VIEWER, token=secret)).codes == ["UNAUTHENTICATED"]


async def test_a_token_revoked_on_this_process_stops_working_at_once(
    api: Api, parties: Parties, seconds: Ticking
) -> None:
    # given a token this process has just used
    secret, token_id = await _new_token(api, parties)
    await api.ok(VIEWER, token=secret)
    # when it is revoked here, within the second
    await revoke_api_token(api, parties.client.token, token_id)
    # then
    assert (await api.raw(VIEWER, token=secret)).codes == ["UNAUTHENTICATED"]


async def test_a_known_session_expires_at_its_hour_exactly(
    runtime: Runtime, parties: Parties, seconds: Ticking, clock: FrozenClock
) -> None:
    # given a session that ends in an hour, known to the cache
    await models.ApiToken.filter(token_hash=_digest(runtime, parties.client.token)).update(
        is_session=True, expires_at=clock() + timedelta(hours=1)
    )
    assert await accounts.authenticate(runtime, parties.client.token) is not None
    # when the hour has passed, within the cache's second
    clock.advance(timedelta(hours=1))
    # then
    assert await accounts.authenticate(runtime, parties.client.token) is None


async def test_last_used_at_is_written_at_most_once_a_minute(
    runtime: Runtime, parties: Parties, seconds: Ticking, clock: FrozenClock
) -> None:
    # given
    token = parties.client.token
    # when the token is used every 30 seconds for three minutes, the cache expiring each time
    with counting_statements() as statements:
        for _ in range(7):
            assert await accounts.authenticate(runtime, token) is not None
            clock.advance(timedelta(seconds=30))
            seconds.now += 30
    # then it was looked up each time, and written at 0 s, 90 s and 180 s (more than a minute
    # after the last write)
    writes = [s for s in statements if s.startswith("UPDATE")]
    assert (len(statements) - len(writes), len(writes)) == (7, 3)
    stored = await models.ApiToken.get(token_hash=_digest(runtime, token))
    assert stored.last_used_at == clock() - timedelta(seconds=30)


def _digest(runtime: Runtime, secret: str) -> str:
    return token_digest(secret, runtime.secret_key)
