"""Sessions (issue 7 §13): the tokens of `login` and `register` are listed in `apiTokens` with
`isSession`, revocable by `revokeApiToken`, and stop working after `SESSION_TTL`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from asgi_lifespan import LifespanManager

from app.main import create_app
from app.services.runtime import Runtime
from app.settings import load_settings
from tests.api.client import Api
from tests.api.operations import login, register, revoke_api_token
from tests.support import FrozenClock

PASSWORD = "correct horse battery"
TOKENS = "query { apiTokens { id name isSession expiresAt createdAt } }"
VIEWER = "query { viewer { name } }"


@pytest.fixture
async def api_with_ttl(db: None, runtime: Runtime) -> AsyncIterator[Api]:
    """The app with sessions that last two hours."""
    settings = load_settings(SECRET_KEY=runtime.secret_key, SESSION_TTL="2h")
    app = create_app(settings, runtime=runtime, database=False)
    async with LifespanManager(app):
        yield Api(app)


async def test_login_and_register_open_sessions_listed_with_their_expiry(api: Api) -> None:
    # given
    registered = await register(api, "Grace", "grace@example.com", PASSWORD)
    logged_in = await login(api, "grace@example.com", PASSWORD)
    # when
    listed = (await api.ok(TOKENS, token=logged_in["token"]))["apiTokens"]
    # then both sessions are there, expiring after SESSION_TTL (30 days by default)
    assert [(t["name"], t["isSession"]) for t in listed] == [("session", True)] * 2
    assert [t["expiresAt"] for t in listed] == ["2026-03-31T12:00:00+00:00"] * 2
    assert registered["token"] != logged_in["token"]


async def test_a_session_can_be_revoked_and_then_does_not_work(api: Api) -> None:
    # given two sessions of one user
    await register(api, "Grace", "grace@example.com", PASSWORD)
    phone = (await login(api, "grace@example.com", PASSWORD))["token"]
    laptop = (await login(api, "grace@example.com", PASSWORD))["token"]
    listed = (await api.ok(TOKENS, token=laptop))["apiTokens"]
    # when the laptop revokes the phone's session (the second listed)
    await revoke_api_token(api, laptop, listed[1]["id"])
    # then the phone's session is refused, and no longer listed
    refused = await api.raw(VIEWER, token=phone)
    assert refused.codes == ["UNAUTHENTICATED"]
    after = (await api.ok(TOKENS, token=laptop))["apiTokens"]
    assert [t["id"] for t in after] == [listed[0]["id"], listed[2]["id"]]


async def test_a_session_expires_after_session_ttl(api_with_ttl: Api, clock: FrozenClock) -> None:
    # given a session opened now, with SESSION_TTL=2h
    await register(api_with_ttl, "Grace", "grace@example.com", PASSWORD)
    session = (await login(api_with_ttl, "grace@example.com", PASSWORD))["token"]
    # when almost two hours pass, it works; once they have, it does not
    clock.advance(timedelta(hours=2) - timedelta(seconds=1))
    assert (await api_with_ttl.ok(VIEWER, token=session))["viewer"]["name"] == "Grace"
    clock.advance(timedelta(seconds=1))
    expired = await api_with_ttl.raw(VIEWER, token=session)
    # then
    assert expired.codes == ["UNAUTHENTICATED"]
