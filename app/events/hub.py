"""In-process fan-out of change notices to subscribers, through bounded queues.

A notice names what changed (ids only); subscribers read the data itself from the database,
so a notice that is late, repeated or merged with another loses nothing. A subscriber whose
queue is full is marked overflowed and told to resynchronise, so a slow consumer never grows
memory without bound.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from app.events.feed import Feeds

QUEUE_SIZE = 256


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


@dataclass(eq=False)
class Subscriber:
    queue: asyncio.Queue[Notice] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False

    def offer(self, notice: Notice) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(notice)
        except asyncio.QueueFull:
            self.overflowed = True
            # Wake the consumer so that it notices and ends the subscription.
            self.queue.get_nowait()
            self.queue.put_nowait(RESYNC)


class Hub:
    """Subscribers by contract and by user (for "every contract of mine")."""

    def __init__(self) -> None:
        self._by_contract: dict[int, set[Subscriber]] = {}
        self._by_user: dict[int, set[Subscriber]] = {}
        self.feeds = Feeds()  # one shared read of new events per contract and wake-up

    @contextmanager
    def subscribe(
        self, *, contract_id: int | None = None, user_id: int | None = None
    ) -> Iterator[Subscriber]:
        subscriber = Subscriber()
        index, key = (
            (self._by_contract, contract_id)
            if contract_id is not None
            else (self._by_user, user_id)
        )
        assert key is not None
        index.setdefault(key, set()).add(subscriber)
        try:
            yield subscriber
        finally:
            members = index.get(key)
            if members is not None:
                members.discard(subscriber)
                if not members:
                    del index[key]

    def deliver(self, notice: Notice) -> None:
        self.feeds.notify(notice.contract_id)  # before anyone wakes up
        for subscriber in self._by_contract.get(notice.contract_id, ()):
            subscriber.offer(notice)
        for party in notice.party_ids:
            for subscriber in self._by_user.get(party, ()):
                subscriber.offer(notice)

    def resync_all(self) -> None:
        """After a gap in delivery (a lost LISTEN connection): everyone reads again."""
        self.feeds.notify_all()
        for index in (self._by_contract, self._by_user):
            for members in index.values():
                for subscriber in members:
                    subscriber.offer(RESYNC)

    @property
    def subscriber_count(self) -> int:
        return sum(len(m) for m in self._by_contract.values()) + sum(
            len(m) for m in self._by_user.values()
        )
