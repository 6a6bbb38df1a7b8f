"""Rate limits (issue 7 §14): moving windows per token and per client address together, over
HTTP and per operation over WebSocket, a stricter one on `login` and `register` per address and
per e-mail, shared through Redis when `REDIS_URL` is set, and per process when Redis is down."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from app.main import create_app
from app.services.runtime import Runtime
from app.settings import Settings
from app.web import ratelimit
from app.web.ratelimit import ADDRESS_SHARE, RateLimits
from tests.api.websocket import websocket
from tests.support import make_person

POLICY = {"query": "{ policy { maxMilestonesPerContract } }"}
LOGIN = """
mutation($input: LoginInput!) { login(input: $input) { token userErrors { code } } }
"""
WATCH = "subscription { milestoneUpdated { id } }"
REDIS_URL = "redis://127.0.0.1:6379"
CLOSED_PORT_REDIS_URL = "redis://127.0.0.1:1"


@pytest.fixture
def limits_clock() -> Iterator[list[float]]:
    """The time the in-process counters see, moved by hand."""
    now = [1_000_000.0]
    fake = SimpleNamespace(time=lambda: now[0], monotonic=time.monotonic)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ratelimit, "time", fake)
        yield now


async def test_the_window_resets_each_minute(limits_clock: list[float]) -> None:
    limits = RateLimits(per_minute=2, login_per_minute=1)
    start = limits_clock[0]

    async def allow(token: str) -> bool:
        return await limits.request(token, "a-" + token) is None

    assert [await allow("a"), await allow("a"), await allow("a")] == [True, True, False]
    assert await allow("b")
    limits_clock[0] = start + 61.0
    assert await allow("a")


async def test_keys_idle_for_a_minute_are_forgotten(limits_clock: list[float]) -> None:
    # given: ten tokens counted (and their address)
    limits = RateLimits(per_minute=2, login_per_minute=1)
    start = limits_clock[0]
    for n in range(10):
        assert await limits.request(f"t{n}", "addr") is None
    counted = len(limits._local._hits)
    # when: a minute later one more request
    limits_clock[0] = start + 61.0
    assert await limits.request("t0", "addr") is None
    # then: only the keys of that request are left
    assert counted == 11
    assert len(limits._local._hits) == 2


async def test_counting_in_the_process_starts_no_task_and_no_thread(
    limits_clock: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr(asyncio, "to_thread", lambda *a, **k: started.append(a))
    monkeypatch.setattr(asyncio, "create_task", lambda *a, **k: started.append(a))
    limits = RateLimits(per_minute=2, login_per_minute=1)

    assert await limits.request("a", "addr") is None
    assert await limits.login("addr", "a@example.com") is None

    assert started == []


async def test_the_window_moves_with_each_hit(limits_clock: list[float]) -> None:
    # given two hits late in one minute
    limits = RateLimits(per_minute=2, login_per_minute=1)
    start = limits_clock[0]
    limits_clock[0] = start + 50.0
    assert await limits.request("a", "addr") is None
    assert await limits.request("a", "addr") is None
    # when a new minute begins: a fixed window would start counting afresh
    limits_clock[0] = start + 61.0
    refused = await limits.request("a", "addr")
    # then the two hits still count until a minute after they were made
    assert refused is not None
    assert refused.retry_after == 49
    limits_clock[0] = start + 110.5
    assert await limits.request("a", "addr") is None


def _app(runtime: Runtime, **settings: object) -> Starlette:
    values: dict[str, object] = {"SECRET_KEY": runtime.secret_key, "RATE_LIMIT_PER_MINUTE": 2}
    values.update(settings)
    return create_app(Settings(**values), runtime=runtime, database=False)  # type: ignore[arg-type]


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """An app that allows two requests a minute per token (ten per address)."""
    app = _app(runtime)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


async def test_beyond_the_limit_a_token_gets_rate_limited_and_others_do_not(
    db: None, runtime: Runtime, http: httpx.AsyncClient
) -> None:
    # given an app that allows two requests a minute
    carol = await make_person(runtime, "Carol")
    frank = await make_person(runtime, "Frank")

    async def ask(token: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return await http.post("/graphql", json=POLICY, headers=headers)

    # when
    answers = [await ask(carol.token) for _ in range(3)]
    other = await ask(frank.token)
    # then
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert "errors" not in answers[1].json()
    refused = answers[2].json()
    assert refused["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert int(answers[2].headers["retry-after"]) > 0
    assert "errors" not in other.json()


async def test_a_fresh_junk_token_per_request_runs_into_the_address_limit(
    db: None, http: httpx.AsyncClient
) -> None:
    # when one address sends a new made-up token with every request
    answers = [
        await http.post(
            "/graphql", json=POLICY, headers={"Authorization": f"Bearer junk-{uuid.uuid4()}"}
        )
        for _ in range(2 * ADDRESS_SHARE + 1)
    ]
    # then the requests beyond the address's limit are refused, the documented shape kept
    # (docs/rules.md#top-level-error-codes)
    codes = [a.json().get("errors", [{"extensions": {"code": "OK"}}])[0] for a in answers]
    assert [c["extensions"]["code"] for c in codes] == ["OK"] * (2 * ADDRESS_SHARE) + [
        "RATE_LIMITED"
    ]
    assert answers[-1].status_code == 200
    assert int(answers[-1].headers["retry-after"]) > 0


async def _login(http: httpx.AsyncClient, email: str) -> httpx.Response:
    body = {"query": LOGIN, "variables": {"input": {"email": email, "password": "wrong one"}}}
    return await http.post("/graphql", json=body)


async def test_logins_are_limited_per_address(db: None, runtime: Runtime) -> None:
    # given an app with generous request limits and 3 logins a minute
    app = _app(runtime, RATE_LIMIT_PER_MINUTE=1000, LOGIN_RATE_LIMIT_PER_MINUTE=3)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        # when one address tries a different e-mail address each time
        answers = [await _login(client, f"user{i}@example.com") for i in range(4)]
    # then the fourth attempt is refused, with Retry-After
    payloads = [a.json() for a in answers]
    assert [p["data"]["login"]["userErrors"][0]["code"] for p in payloads[:3]] == [
        "INVALID_CREDENTIALS"
    ] * 3
    assert payloads[3]["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert answers[3].status_code == 200
    assert int(answers[3].headers["retry-after"]) > 0


async def test_logins_are_limited_per_email_whatever_the_address(
    db: None, runtime: Runtime
) -> None:
    app = _app(runtime, RATE_LIMIT_PER_MINUTE=1000, LOGIN_RATE_LIMIT_PER_MINUTE=3)
    async with LifespanManager(app):
        codes = []
        for i in range(4):
            # a new client address each time
            transport = httpx.ASGITransport(app=app, client=(f"10.0.0.{i + 1}", 4000))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                body = (await _login(client, "Carol@Example.com ")).json()
            codes.append(body["errors"][0]["extensions"]["code"] if "errors" in body else "OK")
    assert codes == ["OK", "OK", "OK", "RATE_LIMITED"]


async def test_logins_over_one_websocket_are_limited(db: None, runtime: Runtime) -> None:
    # given a socket on an app with generous request limits and 3 logins a minute
    carol = await make_person(runtime, "Carol")
    app = _app(runtime, RATE_LIMIT_PER_MINUTE=1000, LOGIN_RATE_LIMIT_PER_MINUTE=3)
    async with LifespanManager(app), websocket(app, "graphql-transport-ws", carol.token) as ws:
        # when it sends 5 logins
        codes = []
        for i in range(5):
            variables = {"input": {"email": f"u{i}@example.com", "password": "wrong one"}}
            operation = {"query": LOGIN, "variables": variables}
            await ws.send({"id": str(i), "type": "subscribe", "payload": operation})
            payload = (await ws.messages_for(str(i)))[0]["payload"]
            errors = payload.get("errors")
            codes.append(errors[0]["extensions"]["code"] if errors else "OK")
    # then the attempts beyond the limit are refused
    assert codes == ["OK", "OK", "OK", "RATE_LIMITED", "RATE_LIMITED"]


@pytest.mark.parametrize("subprotocol", ["graphql-transport-ws", "graphql-ws"])
async def test_operations_over_one_websocket_count_against_the_token(
    db: None, runtime: Runtime, subprotocol: str
) -> None:
    # given a socket of a token allowed two requests a minute (the handshake counts for the
    # address only)
    carol = await make_person(runtime, "Carol")
    app = _app(runtime)
    start = "subscribe" if subprotocol == "graphql-transport-ws" else "start"
    async with LifespanManager(app), websocket(app, subprotocol, carol.token) as ws:
        # when it starts three subscriptions
        for i in range(3):
            await ws.send({"id": str(i), "type": start, "payload": {"query": WATCH}})
        # then the third is refused (the first two wait quietly for events)
        [refused] = await ws.messages_for("2")
        assert refused["type"] == "error"
        payload = refused["payload"]
        error = payload[0] if isinstance(payload, list) else payload
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert ws.close_code is None


async def test_counters_are_shared_through_redis(db: None, runtime: Runtime) -> None:
    # given two apps (two processes) on one Redis, with a namespace of this run's own
    namespace = f"test-{uuid.uuid4()}"
    carol = await make_person(runtime, "Carol")
    apps = [_app(runtime, REDIS_URL=REDIS_URL, SECRET_KEY=namespace) for _ in range(2)]
    headers = {"Authorization": f"Bearer {carol.token}"}
    async with LifespanManager(apps[0]), LifespanManager(apps[1]):
        answers = []
        for app in (apps[0], apps[1], apps[1]):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                answers.append((await client.post("/graphql", json=POLICY, headers=headers)).json())
    # then the second app counts the first one's request
    assert ["errors" in a for a in answers] == [False, False, True]
    assert answers[2]["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_without_redis_the_limits_hold_per_process_with_one_warning(
    db: None, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    # given an app whose REDIS_URL points at a closed port
    carol = await make_person(runtime, "Carol")
    app = _app(runtime, REDIS_URL=CLOSED_PORT_REDIS_URL)
    headers = {"Authorization": f"Bearer {carol.token}"}
    with caplog.at_level(logging.WARNING, logger="app.ratelimit"):
        async with (
            LifespanManager(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            answers = [
                (await http.post("/graphql", json=POLICY, headers=headers)).json() for _ in range(3)
            ]
    # then requests are answered, limited by the process's own counters, with one warning
    assert ["errors" in a for a in answers] == [False, False, True]
    assert answers[2]["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    warnings = [r for r in caplog.records if r.name == "app.ratelimit"]
    assert len(warnings) == 1
    assert "Redis" in warnings[0].getMessage()
