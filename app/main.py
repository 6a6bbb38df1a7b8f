"""The ASGI application."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from tortoise import Tortoise

from app.bootstrap import bootstrap, started
from app.graphql.context import Safeguards
from app.graphql.ids import encode_id
from app.graphql.limits import Limits
from app.graphql.schema import build_schema
from app.services.outbox import Tally, oldest_pending
from app.services.runtime import Runtime
from app.services.token_watch import TokenWatch
from app.services.workers import Jobs, run_forever
from app.settings import Settings
from app.web.body import BodySizeLimitMiddleware
from app.web.cors import cors_middleware
from app.web.endpoint import graphql_endpoint
from app.web.graphiql import STATIC_DIR, STATIC_PATH
from app.web.metrics import Metrics, MetricsMiddleware
from app.web.ratelimit import RateLimitMiddleware, RateLimits
from app.web.security import SecurityHeadersMiddleware


def create_app(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    database: bool = True,
    jobs: bool = True,
) -> Starlette:
    """The whole server. With `database=True` it opens the database and, with `jobs`, runs the
    background jobs (app/services/workers.py) for its lifetime; with `False` the caller owns
    the database (tests). Without `jobs`, `run-jobs` processes do that work."""
    if runtime is None:
        runtime = bootstrap(settings)
    schema = build_schema(
        Limits(
            max_depth=settings.MAX_QUERY_DEPTH,
            max_aliases=settings.MAX_ALIASES,
            max_cost=settings.MAX_QUERY_COST,
            max_nodes=settings.MAX_QUERY_NODES,
            max_milestones=runtime.policy.max_milestones_per_contract,
        )
    )
    rate_limits = RateLimits(
        settings.RATE_LIMIT_PER_MINUTE,
        settings.LOGIN_RATE_LIMIT_PER_MINUTE,
        settings.REDIS_URL,
        # processes of one deployment share a SECRET_KEY, and so their counters
        namespace=hashlib.sha256(settings.SECRET_KEY.encode()).hexdigest()[:16],
    )
    endpoint = graphql_endpoint(
        settings,
        schema,
        runtime,
        Safeguards(
            rate_limits=rate_limits, tokens=TokenWatch(runtime), session_ttl=settings.SESSION_TTL
        ),
    )
    tally = Tally()
    metrics = Metrics(tally, pending=lambda: oldest_pending(runtime))

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        try:
            await Tortoise.get_connection("default").execute_query("SELECT 1")
        except Exception as error:  # any failure means "not ready"
            return JSONResponse({"status": "unavailable", "error": type(error).__name__}, 503)
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            if not database:
                yield
                return
            print(rate_limits.describe(), flush=True)
            async with started(settings, runtime, listen=True):
                if not jobs:
                    yield
                    return
                scheduler = asyncio.create_task(
                    run_forever(Jobs.of(settings, runtime, encode_id), tally)
                )
                try:
                    yield
                finally:
                    scheduler.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await scheduler
        finally:
            rate_limits.close()

    return Starlette(
        routes=[
            Route("/graphql", endpoint, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", endpoint),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics.endpoint),
            Mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[
            Middleware(SecurityHeadersMiddleware),
            Middleware(
                MetricsMiddleware,
                metrics=metrics,
                paths=frozenset({"/graphql", "/healthz", "/readyz", "/metrics"}),
            ),
            cors_middleware(settings),
            Middleware(RateLimitMiddleware, limits=rate_limits),
            Middleware(BodySizeLimitMiddleware, max_bytes=settings.MAX_BODY_BYTES),
        ],
        lifespan=lifespan,
    )
