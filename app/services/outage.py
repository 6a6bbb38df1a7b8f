"""Telling "the database cannot be reached just now" from every other failure.

The pool's connections die with the database server (a restart, a failover, a terminated
backend), and what asyncpg raises then depends on the moment: `OSError` or `TimeoutError` while
connecting, a `PostgresConnectionError` mid-query, an `OperatorInterventionError` (class 57:
shutting down, starting up, cancelled) from the server, and, while a broken connection goes back
to the pool, an `InterfaceError` ("connection is closed") or an `InternalClientError` (a pooled
connection whose server went away between its last query and this one). Such a failure is the
caller's to retry, not a bug: it becomes `SERVICE_UNAVAILABLE`, not `INTERNAL`. (The last two
can also mean a connection misused by the code; the warning logged for each names it.)
"""

from __future__ import annotations

import asyncpg
from tortoise.exceptions import DBConnectionError

UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    DBConnectionError,
)


def is_unavailable(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from or while handling, says the database
    could not be reached."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, UNAVAILABLE):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
