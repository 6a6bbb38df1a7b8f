"""Building the runtime, in one place for every entry point: `serve` (through `create_app`),
`run-jobs`, `seed-demo` and `create-user`.

The runtime holds what every use case needs besides its input: the policy and secret from the
settings, the clock, and the bus that the database calls for. On PostgreSQL that is the
LISTEN/NOTIFY bus, whose `pg_notify` is sent inside each use case's transaction: a command that
built its own runtime with the in-process bus would commit changes (a deadline applied by
`run-jobs`, say) that no subscriber on any `serve` process ever hears of.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from app.db.config import close_database, open_database
from app.events.bus import Bus, LocalBus, PostgresBus
from app.services.runtime import Runtime, system_clock
from app.settings import Settings


def bootstrap(settings: Settings, *, clock: Callable[[], datetime] = system_clock) -> Runtime:
    bus: Bus = PostgresBus(settings.DATABASE_URL) if settings.is_postgres else LocalBus()
    return Runtime(
        policy=settings.policy,
        secret_key=settings.SECRET_KEY,
        clock=clock,
        bus=bus,
        emails=settings.smtp is not None,
        webhook_allow_loopback=settings.WEBHOOK_ALLOW_LOOPBACK,
    )


@asynccontextmanager
async def started(settings: Settings, runtime: Runtime, *, listen: bool) -> AsyncIterator[None]:
    """The database open for the block. With `listen`, the bus also receives the notices of
    other processes (a server's subscribers need them; a command that only writes does not:
    its notices go out with its transactions either way)."""
    await open_database(settings.DATABASE_URL)
    try:
        if listen:
            await runtime.bus.start()
        try:
            yield
        finally:
            if listen:
                await runtime.bus.stop()
    finally:
        await close_database()
