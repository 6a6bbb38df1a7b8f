"""The database side of the raw baseline (`scripts/bench_raw.py`): an asyncpg pool on
PostgreSQL, one sqlite3 connection on SQLite, behind one interface: statements (SQL written with
PostgreSQL's `$n` parameters, which SQLite reads as `?n`), transactions, and timestamps in and
out of each database's form."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, Protocol

Row = Sequence[Any]


class Tx(Protocol):
    async def rows(self, sql: str, *args: Any) -> list[Row]: ...


class Database(Protocol):
    lock: str  # what locks the rows a SELECT reads until the transaction ends

    def transaction(self) -> contextlib.AbstractAsyncContextManager[Tx]: ...

    async def rows(self, sql: str, *args: Any) -> list[Row]: ...

    def moment(self, value: Any) -> datetime: ...

    def stamp(self, value: datetime) -> Any: ...


class Postgres:
    """An asyncpg pool; `FOR UPDATE` locks the contract as the server's writes do."""

    lock = " FOR UPDATE"

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def rows(self, sql: str, *args: Any) -> list[Row]:
        async with self.pool.acquire() as conn:
            return list(await conn.fetch(sql, *args))

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield _PgTx(conn)

    def moment(self, value: Any) -> datetime:
        assert isinstance(value, datetime)
        return value

    def stamp(self, value: datetime) -> Any:
        return value


class _PgTx:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def rows(self, sql: str, *args: Any) -> list[Row]:
        return list(await self.conn.fetch(sql, *args))


class Sqlite:
    """One sqlite3 connection, used from the event loop: SQLite serialises writes anyway."""

    lock = ""
    _numbered = re.compile(r"\$(\d+)")

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA busy_timeout = 10000")

    async def rows(self, sql: str, *args: Any) -> list[Row]:
        return self.conn.execute(self._numbered.sub(r"?\1", sql), args).fetchall()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def moment(self, value: Any) -> datetime:
        return datetime.fromisoformat(value)

    def stamp(self, value: datetime) -> Any:
        return str(value)
