"""Shared execution of subscriptions (app/graphql/sharing.py), with fake result streams, and
through the schema's hook (`Schema.stream`, app/graphql/schema.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import strawberry
from strawberry.types import ExecutionResult

from app.events import fanout
from app.graphql.context import Context
from app.graphql.limits import MAX_TOKENS
from app.graphql.schema import build_schema
from app.graphql.sharing import SharedSubscriptions, ShareKey, share_key
from app.services.runtime import Runtime
from tests.api.client import Api
from tests.api.people import Parties
from tests.api.scenarios import active

LIVE = "subscription($c: ID!) { contractEvents(contractId: $c) { sequence } }"
REPLAY = (
    "subscription($c: ID!, $a: Int) { contractEvents(contractId: $c, afterSequence: $a) "
    "{ sequence } }"
)
VIEWER = (1, False)


def event(sequence: int) -> ExecutionResult:
    return ExecutionResult(data={"contractEvents": {"sequence": sequence}}, errors=None)


class Source:
    """A stream the test feeds by hand, counting how many times it was started."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[ExecutionResult | None] = asyncio.Queue()
        self.starts = 0
        self.closed = False

    async def start(self) -> AsyncIterator[Any]:
        self.starts += 1
        return self._stream()

    async def _stream(self) -> AsyncIterator[Any]:
        try:
            while (item := await self.queue.get()) is not None:
                yield item
        finally:
            self.closed = True

    async def emit(self, *sequences: int) -> None:
        for sequence in sequences:
            await self.queue.put(event(sequence))
        await settle()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def take(stream: AsyncIterator[ExecutionResult], count: int) -> list[Any]:
    return [await asyncio.wait_for(anext(stream), 1) for _ in range(count)]


def sequences(results: list[ExecutionResult]) -> list[int]:
    return [r.data["contractEvents"]["sequence"] for r in results if r.data]


def test_only_subscriptions_of_a_known_viewer_are_shared() -> None:
    assert share_key("query { viewer { id } }", None, None, VIEWER) is None
    assert share_key(LIVE, {"c": "x"}, None, None) is None
    assert share_key("subscription {", None, None, VIEWER) is None
    two_fields = "subscription { a: milestoneUpdated { id } b: milestoneUpdated { id } }"
    assert share_key(two_fields, None, None, VIEWER) is None


def test_a_document_over_the_token_limit_is_not_parsed_for_sharing() -> None:
    # given a subscription whose selection holds more tokens than any request may
    fields = " ".join(f"f{i}: sequence" for i in range(MAX_TOKENS))
    query = "subscription($c: ID!) { contractEvents(contractId: $c) { " + fields + " } }"
    # when / then: it runs alone, so the token limit of the normal path refuses it
    assert share_key(query, {"c": "x"}, None, VIEWER) is None


def test_a_subscription_without_after_sequence_is_live_and_one_with_it_is_a_replay() -> None:
    live = share_key(LIVE, {"c": "x"}, None, VIEWER)
    replay = share_key(REPLAY, {"c": "x", "a": 3}, None, VIEWER)
    unset = share_key(REPLAY, {"c": "x", "a": None}, None, VIEWER)
    assert live is not None and not live.replay
    assert replay is not None and replay.replay
    assert unset is not None and not unset.replay


def test_viewers_and_variables_make_different_groups() -> None:
    mine = share_key(LIVE, {"c": "x"}, None, VIEWER)
    other_viewer = share_key(LIVE, {"c": "x"}, None, (2, False))
    other_contract = share_key(LIVE, {"c": "y"}, None, VIEWER)
    assert mine is not None and other_viewer is not None and other_contract is not None
    assert len({mine.key, other_viewer.key, other_contract.key}) == 3


async def test_live_followers_share_one_execution() -> None:
    # given
    group, source = SharedSubscriptions(), Source()
    key = ShareKey(key="k", replay=False)
    first = group.follow(key, source.start)
    second = group.follow(key, source.start)
    pending = [asyncio.ensure_future(take(first, 2)), asyncio.ensure_future(take(second, 2))]
    await settle()
    # when
    await source.emit(1, 2)
    # then
    assert [sequences(await p) for p in pending] == [[1, 2], [1, 2]]
    assert source.starts == 1


async def test_a_late_replay_follower_gets_what_the_leader_already_produced_first() -> None:
    group, source = SharedSubscriptions(), Source()
    key = ShareKey(key="k", replay=True)
    first = group.follow(key, source.start)
    early = asyncio.ensure_future(take(first, 3))
    await settle()
    await source.emit(4, 5)
    late = group.follow(key, source.start)
    await source.emit(6)
    assert sequences(await early) == [4, 5, 6]
    assert sequences(await take(late, 3)) == [4, 5, 6]
    assert source.starts == 1


async def test_a_replay_leader_whose_history_is_full_takes_no_more_followers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fanout, "HISTORY", 2)
    group, first_source, second_source = SharedSubscriptions(), Source(), Source()
    key = ShareKey(key="k", replay=True)
    first = group.follow(key, first_source.start)
    reading = asyncio.ensure_future(take(first, 2))
    await settle()
    await first_source.emit(1, 2)
    await reading
    group.follow(key, second_source.start)
    await settle()
    assert (first_source.starts, second_source.starts) == (1, 1)


async def test_a_slow_follower_is_told_to_resync_and_the_others_go_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a follower that reads nothing while more than its queue holds arrives
    monkeypatch.setattr(fanout, "FOLLOWER_QUEUE", 3)
    group, source = SharedSubscriptions(), Source()
    key = ShareKey(key="k", replay=False)
    slow = group.follow(key, source.start)
    fast = group.follow(key, source.start)
    first = asyncio.ensure_future(take(slow, 1))
    fast_reader = asyncio.ensure_future(take(fast, 6))
    await settle()
    await source.emit(1)
    assert sequences(await first) == [1]
    # when
    for sequence in (2, 3, 4, 5, 6):
        await source.emit(sequence)
    # then
    ending = await take(slow, 1)
    assert ending[0].data is None
    assert ending[0].errors[0].extensions == {"code": "RESYNC_REQUIRED", "lastSequence": 1}
    with pytest.raises(StopAsyncIteration):
        await anext(slow)
    assert sequences(await fast_reader) == [1, 2, 3, 4, 5, 6]


async def test_the_leader_stops_when_its_last_follower_leaves() -> None:
    group, source = SharedSubscriptions(), Source()
    key = ShareKey(key="k", replay=False)
    only = group.follow(key, source.start)
    reading = asyncio.ensure_future(take(only, 1))
    await settle()
    await source.emit(1)
    await reading
    await only.aclose()
    await settle()
    assert source.closed
    assert len(group) == 0


async def test_a_follower_whose_queue_is_full_when_the_source_ends_gets_it_all_then_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a follower that has read nothing while exactly as much as its queue holds arrived
    monkeypatch.setattr(fanout, "FOLLOWER_QUEUE", 3)
    group, source = SharedSubscriptions(), Source()
    only = group.follow(ShareKey(key="k", replay=False), source.start)
    first = asyncio.ensure_future(take(only, 1))
    await settle()
    await source.emit(1)
    assert sequences(await first) == [1]
    await source.emit(2, 3, 4)
    # when the source ends
    await source.queue.put(None)
    await settle()

    # then the follower gets what its queue holds, and its stream ends
    async def rest() -> list[ExecutionResult]:
        return [result async for result in only]

    assert sequences(await asyncio.wait_for(rest(), 1)) == [2, 3, 4]


# --- through the schema: the hook in Schema.stream -------------------------------------------

LIVE_EVENTS = "subscription($c: ID!) { contractEvents(contractId: $c) { sequence type } }"
PAY_BONUS = """
mutation($input: PayBonusInput!) { payBonus(input: $input) { userErrors { code } } }
"""


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting until {what}")


async def known_viewer(runtime: Runtime, token: str) -> Context:
    """A context whose caller is already known, as on a socket after `connection_init`."""
    context = Context(runtime=runtime, token=token)
    await context.principal()
    return context


async def test_identical_subscriptions_of_one_viewer_share_one_execution(
    api: Api, parties: Parties, runtime: Runtime
) -> None:
    # given two identical live subscriptions of the client, and one of the freelancer
    schema = build_schema()
    contract = await active(api, parties)
    streams = []
    for token in (parties.client.token, parties.client.token, parties.freelancer.token):
        context = await known_viewer(runtime, token)
        streams.append(
            await schema.stream(
                LIVE_EVENTS, variable_values={"c": contract["id"]}, context_value=context
            )
        )
    pending = [asyncio.ensure_future(anext(stream)) for stream in streams]
    await until(lambda: runtime.bus.fanout.subscriber_count == 2, "both runs are listening")

    # when an event commits
    await api.ok(
        PAY_BONUS,
        {"input": {"contractId": contract["id"], "amount": "1.00"}},
        parties.client.token,
    )

    # then all three get it, from two executions: one per viewer
    results = [await asyncio.wait_for(p, 5) for p in pending]
    assert [getattr(r, "data", None) for r in results] == [
        {"contractEvents": {"sequence": 3, "type": "BONUS_PAID"}}
    ] * 3
    assert runtime.bus.fanout.subscriber_count == 2
    assert len(schema.shared) == 2
    for stream in streams:
        await stream.aclose()
    await until(lambda: runtime.bus.fanout.subscriber_count == 0, "both runs have ended")
    assert len(schema.shared) == 0


async def test_the_hook_reads_strawberrys_arguments_by_name_and_passes_them_on_as_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever the order and number of `Schema.stream`'s parameters, the hook finds the query,
    variables, operation and context by name, and strawberry gets its arguments untouched."""
    # given a strawberry whose `stream` takes its parameters in another order, one more, and
    # most of them keyword-only
    calls: list[dict[str, Any]] = []

    async def stream(
        self: strawberry.Schema,
        query: str | None,
        context_value: Any = None,
        *,
        variable_values: dict[str, Any] | None = None,
        operation_name: str | None = None,
        newer_option: int = 0,
    ) -> AsyncIterator[Any]:
        calls.append({"query": query, "variables": variable_values, "newer": newer_option})
        return Source()._stream()

    monkeypatch.setattr(strawberry.Schema, "stream", stream)
    schema = build_schema()

    # when a query is streamed with all of them
    await schema.stream("{ policy { currency } }", None, variable_values={"a": 1}, newer_option=2)

    # then
    assert calls == [{"query": "{ policy { currency } }", "variables": {"a": 1}, "newer": 2}]
