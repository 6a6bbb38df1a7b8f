"""The tokens that this process's open WebSockets hold, and the task that ends those sockets
when their token stops working.

A token revoked on any process, or a session that expires, is a row in the shared database:
every `INTERVAL` seconds one statement asks which of the held token ids no longer work, and the
sockets holding them are told to end. The task runs only while some socket is open. This needs
no event bus, and so works the same on SQLite and across PostgreSQL processes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from app.services.accounts import dead_tokens
from app.services.runtime import Runtime

logger = logging.getLogger("app.token_watch")

INTERVAL = 0.5

End = Callable[[], Awaitable[None]]


class TokenWatch:
    def __init__(self, runtime: Runtime, interval: float | None = None) -> None:
        self.runtime = runtime
        self.interval = INTERVAL if interval is None else interval
        self._holders: dict[int, set[End]] = {}
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    @property
    def held(self) -> frozenset[int]:
        return frozenset(self._holders)

    def hold(self, token_id: int, end: End) -> Callable[[], None]:
        """Call `end` once the token stops working; the returned function lets go of it."""
        self._holders.setdefault(token_id, set()).add(end)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="token-watch")

        def release() -> None:
            holders = self._holders.get(token_id)
            if holders is not None:
                holders.discard(end)
                if not holders:
                    del self._holders[token_id]

        return release

    async def still_works(self, token_id: int) -> bool:
        return not await dead_tokens(self.runtime, [token_id])

    async def sweep(self) -> int:
        """End the sockets whose token no longer works; how many were told to end."""
        if not self._holders:
            return 0
        dead = await dead_tokens(self.runtime, list(self._holders))
        ends = [end for token_id in dead for end in self._holders.pop(token_id, set())]
        for outcome in await asyncio.gather(*(end() for end in ends), return_exceptions=True):
            if isinstance(outcome, Exception):
                logger.warning("Could not end a socket whose token stopped working: %r", outcome)
        return len(ends)

    async def _run(self) -> None:
        while self._holders:
            await asyncio.sleep(self.interval)
            try:
                await self.sweep()
            except Exception as error:  # the database is down: keep the sockets, ask again
                if not self._failing:
                    logger.warning("Cannot check the tokens of open sockets: %r", error)
                self._failing = True
            else:
                self._failing = False
