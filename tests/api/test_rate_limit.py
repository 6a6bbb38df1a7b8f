"""Rate limiting per token (per address without one)."""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager

from app.main import create_app
from app.services.runtime import Runtime
from app.settings import Settings
from app.web.ratelimit import RateLimiter
from tests.support import make_person

POLICY = {"query": "{ policy { maxMilestonesPerContract } }"}


def test_the_window_resets_each_minute() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert [limiter.allow("a"), limiter.allow("a"), limiter.allow("a")] == [True, True, False]
    assert limiter.allow("b")
    now[0] = 60.0
    assert limiter.allow("a")


async def test_beyond_the_limit_a_token_gets_rate_limited_and_others_do_not(
    db: None, runtime: Runtime
) -> None:
    # given an app that allows two requests a minute
    carol = await make_person(runtime, "Carol")
    frank = await make_person(runtime, "Frank")
    app = create_app(
        Settings(SECRET_KEY=runtime.secret_key, RATE_LIMIT_PER_MINUTE=2),
        runtime=runtime,
        database=False,
    )
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):

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
