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

The hook: `Schema.stream` (app/graphql/schema.py) hands a shareable subscription to
`SharedSubscriptions.follow`. The runs and their followers are app.events.fanout's
`Broadcasts`, whose mailboxes (the bounded queue type that notices use too) bound the memory
of a slow follower; this module decides what may share and turns an overflow into
RESYNC_REQUIRED.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, Hashable
from dataclasses import dataclass
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

from app.events.fanout import Broadcasts, Overflowed, Start
from app.graphql.limits import MAX_TOKENS
from app.graphql.subscriptions import resync_required

LIVE_FIELDS = frozenset({"contractEvents", "milestoneUpdated"})


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


class SharedSubscriptions:
    """The groups of shareable subscriptions, each run once (app.events.fanout.Broadcasts)."""

    def __init__(self) -> None:
        self._broadcasts: Broadcasts[Any] = Broadcasts()

    def follow(self, key: ShareKey, start: Start[Any]) -> AsyncGenerator[ExecutionResult, None]:
        """Join the group's run, starting one (`start()` gives its results) if need be."""
        return _resync_when_behind(self._broadcasts.follow(key.key, start, replay=key.replay))

    def __len__(self) -> int:
        return len(self._broadcasts)


async def _resync_when_behind(
    results: AsyncGenerator[Any, None],
) -> AsyncGenerator[ExecutionResult, None]:
    """The follower's results; once it has fallen too far behind, RESYNC_REQUIRED with the last
    sequence it received, and the end."""
    last_sequence: int | None = None
    async with contextlib.aclosing(results):
        try:
            async for result in results:
                last_sequence = _sequence_of(result, last_sequence)
                yield result
        except Overflowed:
            yield ExecutionResult(data=None, errors=[resync_required(last_sequence)])


def _sequence_of(result: Any, previous: int | None) -> int | None:
    data = getattr(result, "data", None)
    event = data.get("contractEvents") if isinstance(data, dict) else None
    sequence = event.get("sequence") if isinstance(event, dict) else None
    return sequence if isinstance(sequence, int) else previous
