"""In-process fan-out: change notices to subscribers, with one shared read of a contract's new
events per wake-up, and one run of a stream to many followers; through one bounded queue type.

A notice names what changed (ids only); subscribers read the data itself from the database,
so a notice that is late, repeated or merged with another loses nothing. Every consumer reads
through a `Mailbox`, a bounded queue: one that falls more than its mailbox holds behind is
marked overflowed, what it had queued is dropped, and its next read raises `Overflowed`, so a
slow consumer never grows memory without bound and is told to resynchronise (the GraphQL layer
turns this into RESYNC_REQUIRED with the last sequence delivered).

`Broadcasts` runs a stream once for all the followers of one key, each with a mailbox of its
own: app/graphql/sharing.py uses it to share the execution of identical subscriptions of one
viewer. A live stream takes late joiners at any time; a replay keeps what it has produced
(up to HISTORY items) and hands it first to a late joiner, so that the joiner receives exactly
what a run of its own would, and once it has produced more takes no more followers.

Why a `Feed`: without one, every subscriber of a contract runs its own "events after my last
sequence" query on every notice: N subscribers cost N identical reads per event, and the reads,
not the sending, are what limit fan-out. A feed runs one read for all of them and keeps the
latest rows, so that subscribers at the head of the stream (nearly all of them) take their
events from memory. A subscriber further behind than the rows kept reads for itself.

Why the feed stays gap-free: a subscriber woken by a notice must see every event committed
before that notice. `Fanout.deliver` calls `Feed.notify()` before any subscriber wakes, which
asks for a read that *starts* after it; `Feed.after()` waits until such a read has finished. A
read already in flight when the notice came may have missed the new event, so it does not
count. Reads run one at a time and a read returns a contiguous run of sequences (events of a
contract commit in sequence order, under its row lock), so the rows kept have no hole.

The feed does not know the database: it is given the read to run (`fetch`), so that this
package stays below the services layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

QUEUE_SIZE = 256  # notices a subscriber may have waiting
FOLLOWER_QUEUE = 64  # items of a broadcast a follower may have waiting
HISTORY = 256  # items a replay's broadcast keeps for followers that join late
KEEP = 256  # rows a feed keeps per contract, the latest ones
FETCH_BATCH = 200

T = TypeVar("T")


@dataclass(frozen=True)
class Notice:
    """A contract changed: its events up to `sequence` are stored; these milestones changed."""

    contract_id: int
    sequence: int
    milestone_ids: tuple[int, ...] = ()
    party_ids: tuple[int, ...] = ()

    def encode(self) -> str:
        return json.dumps(
            {
                "c": self.contract_id,
                "s": self.sequence,
                "m": list(self.milestone_ids),
                "p": list(self.party_ids),
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, payload: str) -> Notice:
        data = json.loads(payload)
        return cls(
            contract_id=int(data["c"]),
            sequence=int(data["s"]),
            milestone_ids=tuple(int(m) for m in data["m"]),
            party_ids=tuple(int(p) for p in data["p"]),
        )


RESYNC = Notice(contract_id=0, sequence=0)  # "anything may have changed": read everything again


class Overflowed(Exception):
    """The consumer fell further behind than its mailbox holds: what it missed is gone."""


class Mailbox(Generic[T]):
    """A bounded queue for one consumer, iterated with `async for` or `anext`. Offering never
    blocks the producer: when the mailbox is full it overflows instead. It ends (the iteration
    stops) once closed and emptied."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.overflowed = False
        self._items: deque[T] = deque()
        self._closed = False
        self._ready = asyncio.Event()

    def offer(self, item: T) -> None:
        if self.overflowed or self._closed:
            return
        if len(self._items) >= self.size:
            self.overflowed = True
            self._items.clear()  # the memory goes at once, not when the consumer reads
        else:
            self._items.append(item)
        self._ready.set()  # wake the consumer, also to learn that it overflowed

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    def __len__(self) -> int:
        return len(self._items)

    def __aiter__(self) -> Mailbox[T]:
        return self

    async def __anext__(self) -> T:
        while True:
            if self.overflowed:
                raise Overflowed
            if self._items:
                return self._items.popleft()
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()


class Sequenced(Protocol):
    @property
    def sequence(self) -> int: ...


RowT = TypeVar("RowT", bound=Sequenced)

# fetch(contract_id, after_sequence, limit) -> rows with sequence > after_sequence, in order
Fetch = Callable[[int, int, int], Awaitable[list[RowT]]]


class Feed(Generic[RowT]):
    """One contract's shared read of new events (see the module docstring)."""

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


class Fanout:
    """Subscribers by contract and by user (for "every contract of mine"), and the feeds of the
    contracts that have subscribers, created and dropped with them."""

    def __init__(self) -> None:
        self._by_contract: dict[int, set[Mailbox[Notice]]] = {}
        self._by_user: dict[int, set[Mailbox[Notice]]] = {}
        self._feeds: dict[int, Feed[Any]] = {}

    @contextmanager
    def subscribe(
        self, *, contract_id: int | None = None, user_id: int | None = None
    ) -> Iterator[Mailbox[Notice]]:
        mailbox: Mailbox[Notice] = Mailbox(QUEUE_SIZE)
        index, key = (
            (self._by_contract, contract_id)
            if contract_id is not None
            else (self._by_user, user_id)
        )
        assert key is not None
        index.setdefault(key, set()).add(mailbox)
        try:
            yield mailbox
        finally:
            members = index.get(key)
            if members is not None:
                members.discard(mailbox)
                if not members:
                    del index[key]

    @contextmanager
    def feed(self, contract_id: int, fetch: Fetch[RowT]) -> Iterator[Feed[RowT]]:
        """Join the contract's feed (created for its first member, dropped after its last)."""
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

    def deliver(self, notice: Notice) -> None:
        feed = self._feeds.get(notice.contract_id)
        if feed is not None:
            feed.notify()  # before anyone wakes up
        for mailbox in self._by_contract.get(notice.contract_id, ()):
            mailbox.offer(notice)
        for party in notice.party_ids:
            for mailbox in self._by_user.get(party, ()):
                mailbox.offer(notice)

    def resync_all(self) -> None:
        """After a gap in delivery (a lost LISTEN connection): everyone reads again."""
        for feed in self._feeds.values():
            feed.notify()
        for index in (self._by_contract, self._by_user):
            for members in index.values():
                for mailbox in members:
                    mailbox.offer(RESYNC)

    @property
    def subscriber_count(self) -> int:
        return sum(len(m) for m in self._by_contract.values()) + sum(
            len(m) for m in self._by_user.values()
        )

    @property
    def feed_count(self) -> int:
        return len(self._feeds)


# start() -> the stream to run, once
Start = Callable[[], Awaitable[AsyncIterator[T]]]


class Broadcast(Generic[T]):
    """One run of a stream, handed to each of its followers through a mailbox of its own."""

    def __init__(self, owner: Broadcasts[T], key: Hashable, *, replay: bool) -> None:
        self.owner = owner
        self.key = key
        self.followers: set[Mailbox[T]] = set()
        self.task: asyncio.Task[None] | None = None
        self.history: list[T] | None = [] if replay else None

    def admits_late_joiners(self) -> bool:
        return self.history is None or len(self.history) < HISTORY

    async def run(self, start: Start[T]) -> None:
        source: AsyncIterator[T] | None = None
        try:
            source = await start()
            async for item in source:
                if self.history is not None and len(self.history) < HISTORY:
                    self.history.append(item)
                for mailbox in list(self.followers):
                    mailbox.offer(item)
        finally:
            self.owner.forget(self)
            for mailbox in list(self.followers):
                mailbox.close()
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    def leave(self, mailbox: Mailbox[T]) -> None:
        self.followers.discard(mailbox)
        if not self.followers and self.task is not None:
            self.owner.forget(self)
            self.task.cancel()


class Broadcasts(Generic[T]):
    """The running broadcasts, one per key; each ends with its stream or its last follower."""

    def __init__(self) -> None:
        self._running: dict[Hashable, Broadcast[T]] = {}

    def forget(self, broadcast: Broadcast[T]) -> None:
        if self._running.get(broadcast.key) is broadcast:
            del self._running[broadcast.key]

    def follow(self, key: Hashable, start: Start[T], *, replay: bool) -> AsyncGenerator[T, None]:
        """Follow the key's broadcast, starting one (`start()` gives its stream) if there is
        none or if the one there can no longer take a late joiner. The follower is counted from
        this call on; its stream raises `Overflowed` if it falls too far behind."""
        broadcast = self._running.get(key)
        if broadcast is None or not broadcast.admits_late_joiners():
            broadcast = self._running[key] = Broadcast(self, key, replay=replay)
            broadcast.task = asyncio.create_task(broadcast.run(start))
        mailbox: Mailbox[T] = Mailbox(FOLLOWER_QUEUE)
        broadcast.followers.add(mailbox)
        return self._deliver(broadcast, list(broadcast.history or ()), mailbox)

    @staticmethod
    async def _deliver(
        broadcast: Broadcast[T], backlog: list[T], mailbox: Mailbox[T]
    ) -> AsyncGenerator[T, None]:
        try:
            for item in backlog:
                yield item
            async for item in mailbox:
                yield item
        finally:
            broadcast.leave(mailbox)

    def __len__(self) -> int:
        return len(self._running)
