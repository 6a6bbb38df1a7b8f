"""One shared read of a contract's new events per wake-up, for all of its subscribers.

Without a feed, every subscriber of a contract runs its own "events after my last sequence"
query on every notice: N subscribers cost N identical reads per event, and the reads, not the
sending, are what limit fan-out. A feed runs one read for all of them and keeps the latest rows,
so that subscribers at the head of the stream (nearly all of them) take their events from
memory. A subscriber further behind than the rows kept reads for itself, as before.

Why it stays gap-free: a subscriber woken by a notice must see every event committed before
that notice. `notify()` runs when the notice is delivered (before any subscriber wakes) and
asks for a read that *starts* after it; `after()` waits until such a read has finished. A read
already in flight when the notice came may have missed the new event, so it does not count.
Reads run one at a time and a read returns a contiguous run of sequences (events of a contract
commit in sequence order, under its row lock), so the rows kept have no hole.

The feed does not know the database: it is given the read to run (`fetch`), so that this
package stays below the services layer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, Protocol, TypeVar

KEEP = 256  # rows kept per contract, the latest ones
FETCH_BATCH = 200


class Sequenced(Protocol):
    @property
    def sequence(self) -> int: ...


RowT = TypeVar("RowT", bound=Sequenced)

# fetch(contract_id, after_sequence, limit) -> rows with sequence > after_sequence, in order
Fetch = Callable[[int, int, int], Awaitable[list[RowT]]]


class Feed(Generic[RowT]):
    def __init__(self, contract_id: int, fetch: Fetch[RowT]) -> None:
        self.contract_id = contract_id
        self.fetch = fetch
        self.members = 0
        # What the subscribers derive from the rows of the latest read and may share (objects
        # built from them, loaders for their nested fields); emptied by every read.
        self.shared: dict[Hashable, Any] = {}
        self._rows: list[RowT] = []  # contiguous sequences, ending at _high
        self._high: int | None = None  # every event up to this sequence has been read
        self._started = 0  # reads started, numbered from 1
        self._completed = 0  # the number of the last read that finished
        self._wanted = 0  # a read with at least this number must finish before delivering
        self._reading: asyncio.Task[None] | None = None

    def notify(self) -> None:
        """Something was committed: the next delivery needs a read that starts from now on."""
        self._wanted = self._started + 1

    async def after(self, sequence: int) -> list[RowT] | None:
        """The events after `sequence`, as read by a read that started after the latest notice
        (an empty list when there are none); None when `sequence` is older than the rows kept,
        and the caller must read for itself."""
        wanted = self._wanted
        while self._completed < wanted:
            if self._reading is None:
                self._started += 1
                self._reading = asyncio.create_task(self._read(self._started, sequence))
            # Shielded: a subscriber that goes away must not cancel the others' read.
            await asyncio.shield(self._reading)
        if self._high is None or sequence >= self._high:
            return []
        if not self._rows or self._rows[0].sequence > sequence + 1:
            return None
        return self._rows[sequence + 1 - self._rows[0].sequence :]

    async def _read(self, number: int, hint: int) -> None:
        try:
            after = self._high if self._high is not None else hint
            while True:
                rows = await self.fetch(self.contract_id, after, FETCH_BATCH)
                if rows:
                    if self._rows and rows[0].sequence != self._rows[-1].sequence + 1:
                        self._rows = []  # only the first read can start elsewhere
                    self._rows.extend(rows)
                    after = rows[-1].sequence
                if len(rows) < FETCH_BATCH:
                    break
            if len(self._rows) > 2 * KEEP:
                self._rows = self._rows[-KEEP:]
            self._high = after
            self._completed = number
            self.shared = {}
        finally:
            self._reading = None


class Feeds:
    """The feeds of the contracts that have subscribers, created and dropped with them."""

    def __init__(self) -> None:
        self._feeds: dict[int, Feed[Any]] = {}

    @contextmanager
    def join(self, contract_id: int, fetch: Fetch[RowT]) -> Iterator[Feed[RowT]]:
        feed: Feed[RowT] | None = self._feeds.get(contract_id)
        if feed is None:
            feed = self._feeds[contract_id] = Feed(contract_id, fetch)
        feed.members += 1
        try:
            yield feed
        finally:
            feed.members -= 1
            if feed.members == 0 and self._feeds.get(contract_id) is feed:
                del self._feeds[contract_id]

    def notify(self, contract_id: int) -> None:
        feed = self._feeds.get(contract_id)
        if feed is not None:
            feed.notify()

    def notify_all(self) -> None:
        for feed in self._feeds.values():
            feed.notify()

    def __len__(self) -> int:
        return len(self._feeds)
