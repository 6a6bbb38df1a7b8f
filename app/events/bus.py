"""The event bus: how a committed change reaches subscribers, in this process or any other.

`LocalBus` (SQLite, one process) hands notices to the fan-out (app/events/fanout.py) after
commit. `PostgresBus` sends `pg_notify` inside the transaction that stores the change, so the
notice exists only if the change committed, and every process receives it on one dedicated
LISTEN connection (not from the pool). A lost LISTEN connection is re-established with backoff,
and then every subscriber reads again from the stored rows, so nothing is lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any, Protocol

import asyncpg

from app.events.fanout import Fanout, Notice
from app.settings import asyncpg_dsn

CHANNEL = "escrow_changes"
MAX_BACKOFF = 2.0  # between attempts to LISTEN again: a restarted database is heard within it
CONNECT_TIMEOUT = 5.0
# The LISTEN connection names itself in pg_stat_activity.application_name, with the process id,
# so that operators (and tests) can tell it from pool connections and from other processes':
# its `query` column shows `LISTEN ...` only until the first health check (`SELECT 1`).
APPLICATION_NAME = "escrow-listener"


def application_name() -> str:
    return f"{APPLICATION_NAME}:{os.getpid()}"


logger = logging.getLogger("app.events")


class Executor(Protocol):
    async def execute_query(self, query: str, values: list[Any] | None = None) -> Any: ...


class Bus(Protocol):
    fanout: Fanout

    async def publish(self, conn: Executor, notice: Notice) -> None:
        """Called inside the transaction that stores the change."""

    def committed(self, notice: Notice) -> None:
        """Called once that transaction has committed."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class LocalBus:
    def __init__(self) -> None:
        self.fanout = Fanout()

    async def publish(self, conn: Executor, notice: Notice) -> None:
        return None

    def committed(self, notice: Notice) -> None:
        self.fanout.deliver(notice)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class PostgresBus:
    def __init__(self, database_url: str) -> None:
        self.fanout = Fanout()
        self.dsn = asyncpg_dsn(database_url)
        self._task: asyncio.Task[None] | None = None
        self._connection: asyncpg.Connection | None = None
        self.connected = asyncio.Event()

    async def publish(self, conn: Executor, notice: Notice) -> None:
        await conn.execute_query("SELECT pg_notify($1, $2)", [CHANNEL, notice.encode()])

    def committed(self, notice: Notice) -> None:
        return None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever())
        await asyncio.wait_for(self.connected.wait(), timeout=30)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._connection is not None and not self._connection.is_closed():
            await self._connection.close()

    async def _listen_forever(self) -> None:
        backoff = 0.1
        first = True
        while True:
            lost = asyncio.Event()
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(
                    self.dsn,
                    timeout=CONNECT_TIMEOUT,
                    server_settings={"application_name": application_name()},
                )
                connection.add_termination_listener(lambda _, lost=lost: lost.set())
                await connection.add_listener(CHANNEL, self._on_notify)
                self._connection = connection
            except Exception as error:
                # Any failure is retried (asyncpg raises OSError, TimeoutError, PostgresError
                # or InterfaceError depending on when the connection fails): one that escaped
                # would end this task and leave the process deaf to other processes for good.
                logger.warning("LISTEN connection failed (%r); retrying in %.1fs", error, backoff)
                if connection is not None:
                    connection.terminate()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = 0.1
            if not first:
                logger.info("LISTEN connection re-established; subscribers resynchronise")
                self.fanout.resync_all()
            first = False
            self.connected.set()
            await self._watch(connection, lost)
            self.connected.clear()
            logger.warning("LISTEN connection lost; reconnecting")

    async def _watch(self, connection: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Wait until the connection is lost; a cheap query now and then finds a dead socket."""
        while not lost.is_set() and not connection.is_closed():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), timeout=5)
            if lost.is_set() or connection.is_closed():
                break
            try:
                await asyncio.wait_for(connection.execute("SELECT 1"), timeout=5)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                break
        with contextlib.suppress(Exception):
            await connection.close(timeout=1)

    def _on_notify(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        """Anyone may `pg_notify` on the channel: what is not a notice is dropped, in one line
        (a traceback per bad notice is what slows a busy database's log)."""
        try:
            notice = Notice.decode(payload)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            logger.warning(
                "Dropped a malformed notice from backend %d (%s): %.80r",
                pid,
                type(error).__name__,
                payload,
            )
            return
        self.fanout.deliver(notice)
