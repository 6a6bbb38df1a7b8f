"""Shared execution of live subscriptions.

Many sockets often follow one contract with the same selection as the same viewer (one user's
devices, a dashboard open in many tabs). Each such group shares one execution: a leader runs
the subscription once and hands every result to its followers, each through a bounded queue
of its own. A live subscription (`milestoneUpdated`, `contractEvents` without
`afterSequence`) may join its group at any time: a late joiner of a live stream misses nothing
it asked for. A replay (`afterSequence` given) joins only a leader that still holds every
result it has produced, and gets those first, so it receives exactly what a replay of its own
would. A follower too slow for its queue gets `RESYNC_REQUIRED` with the last sequence it
received, and its subscription ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    parse,
)
from graphql.error import GraphQLSyntaxError
from strawberry.types import ExecutionResult

from app.graphql.limits import MAX_TOKENS
from app.graphql.subscriptions import resync_required

FOLLOWER_QUEUE = 64
HISTORY = 256  # results a replay's leader keeps for followers that join late
LIVE_FIELDS = frozenset({"contractEvents", "milestoneUpdated"})
_END = object()

Start = Callable[[], Awaitable[AsyncIterator[Any]]]


@lru_cache(maxsize=256)
def _document(query: str) -> DocumentNode | None:
    try:
        return parse(query, max_tokens=MAX_TOKENS)  # refused unread past the token limit
    except GraphQLSyntaxError:
        return None


@dataclass(frozen=True)
class ShareKey:
    key: Hashable
    replay: bool


def share_key(
    query: str | None,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    viewer: Hashable | None,
) -> ShareKey | None:
    """The group this subscription can share with, or None to run it alone."""
    if query is None or viewer is None:
        return None
    document = _document(query)
    if document is None:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    operation = next(
        (
            o
            for o in operations
            if operation_name is None or (o.name is not None and o.name.value == operation_name)
        ),
        None,
    )
    if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
        return None
    fields = operation.selection_set.selections
    if len(fields) != 1 or not isinstance(fields[0], FieldNode):
        return None
    root = fields[0]
    if root.name.value not in LIVE_FIELDS:
        return None
    replay = False
    for argument in root.arguments or ():
        if argument.name.value == "afterSequence":
            value = argument.value
            replay = (
                (variables or {}).get(value.name.value) is not None
                if isinstance(value, VariableNode)
                else value.kind != "null_value"
            )
    key = (query, operation_name, json.dumps(variables or {}, sort_keys=True), viewer)
    return ShareKey(key=key, replay=replay)


@dataclass(eq=False)
class Follower:
    backlog: list[Any]
    queue: asyncio.Queue[Any] = field(default_factory=lambda: asyncio.Queue(FOLLOWER_QUEUE))
    overflowed: bool = False
    last_sequence: int | None = None

    def offer(self, item: Any) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True
            self.queue.get_nowait()
            self.queue.put_nowait(_END)

    def end(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(_END)


class Leader:
    def __init__(self, group: SharedSubscriptions, key: ShareKey) -> None:
        self.group = group
        self.key = key
        self.followers: set[Follower] = set()
        self.task: asyncio.Task[None] | None = None
        self.history: list[Any] | None = [] if key.replay else None

    def admits_late_joiners(self) -> bool:
        return self.history is None or len(self.history) < HISTORY

    async def run(self, source: AsyncIterator[Any]) -> None:
        try:
            async for result in source:
                if self.history is not None and len(self.history) < HISTORY:
                    self.history.append(result)
                for follower in list(self.followers):
                    follower.offer(result)
        finally:
            self.group.forget(self)
            for follower in list(self.followers):
                follower.end()
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    def leave(self, follower: Follower) -> None:
        self.followers.discard(follower)
        if not self.followers and self.task is not None:
            self.group.forget(self)
            self.task.cancel()


class SharedSubscriptions:
    def __init__(self) -> None:
        self._leaders: dict[Hashable, Leader] = {}

    def forget(self, leader: Leader) -> None:
        if self._leaders.get(leader.key.key) is leader:
            del self._leaders[leader.key.key]

    def follow(self, key: ShareKey, start: Start) -> AsyncGenerator[ExecutionResult, None]:
        """Join the group's leader, starting one (`start()` gives its source) if there is none
        or if the one there can no longer take a late joiner."""
        leader = self._leaders.get(key.key)
        if leader is None or not leader.admits_late_joiners():
            leader = self._leaders[key.key] = Leader(self, key)
            leader.task = asyncio.create_task(self._lead(leader, start))
        follower = Follower(backlog=list(leader.history or ()))
        leader.followers.add(follower)
        return self._deliver(leader, follower)

    @staticmethod
    async def _lead(leader: Leader, start: Start) -> None:
        await leader.run(await start())

    @staticmethod
    async def _deliver(leader: Leader, follower: Follower) -> AsyncGenerator[ExecutionResult, None]:
        try:
            for item in follower.backlog:
                follower.last_sequence = _sequence_of(item, follower.last_sequence)
                yield item
            follower.backlog = []
            while True:
                item = await follower.queue.get()
                if follower.overflowed:
                    yield ExecutionResult(
                        data=None, errors=[resync_required(follower.last_sequence)]
                    )
                    return
                if item is _END:
                    return
                follower.last_sequence = _sequence_of(item, follower.last_sequence)
                yield item
        finally:
            leader.leave(follower)

    def __len__(self) -> int:
        return len(self._leaders)


def _sequence_of(result: Any, previous: int | None) -> int | None:
    data = getattr(result, "data", None)
    event = data.get("contractEvents") if isinstance(data, dict) else None
    sequence = event.get("sequence") if isinstance(event, dict) else None
    return sequence if isinstance(sequence, int) else previous
