"""Subscriptions. A notice only wakes a subscriber up; what it delivers is read from the
database, so every delivery is fresh and `contractEvents` is gap-free and in order even when
events commit while the replay is being read.

`contractEvents` reads its replay for itself; once caught up, the new events of a wake-up come
from the contract's shared feed (app.events.fanout), one read for all of the contract's
subscribers instead of one each. A subscriber whose mailbox overflowed ends with
RESYNC_REQUIRED and the last sequence it was given.

Each event is written by the compiled read path (`app.graphql.compiled.events`) when the planner
covers the subscription's selection, and built as its strawberry object otherwise."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, MutableMapping
from contextlib import aclosing
from functools import partial
from typing import Annotated, Any, TypeVar

import strawberry
from graphql import GraphQLError

from app.domain.permissions import Actor
from app.events.fanout import RESYNC, Feed, Mailbox, Notice, Overflowed
from app.graphql.compiled.events import event_plan, write_event
from app.graphql.compiled.objects import Objects
from app.graphql.context import Info
from app.graphql.errors import shape_error
from app.graphql.ids import decode_id
from app.graphql.loaders import Loaders
from app.graphql.notifications import Notification
from app.graphql.types import ContractEvent, Milestone
from app.services import notifications, reads
from app.services.outage import is_unavailable
from app.services.records import ContractRecord, EventRecord
from app.services.tracking import watched_state

REPLAY_BATCH = 200
NOTIFICATION_LOOKBACK = 20

T = TypeVar("T")


def _not_found() -> GraphQLError:
    return GraphQLError("No such contract", extensions={"code": "NOT_FOUND"})


def resync_required(last_sequence: int | None) -> GraphQLError:
    return GraphQLError(
        "This subscription fell too far behind and has ended; subscribe again with "
        "afterSequence set to the last sequence received",
        extensions={"code": "RESYNC_REQUIRED", "lastSequence": last_sequence},
    )


def _shaped(error: Exception) -> GraphQLError:
    """An error that ends a subscription, as a client may see it. ShapeErrors shapes the result
    of an operation, not the errors a subscription's stream raises: credentials keep their
    code here, and anything unexpected is logged and masked as INTERNAL."""
    if isinstance(error, GraphQLError) and error.original_error is None:
        return shape_error(error)
    return shape_error(GraphQLError(str(error), original_error=error))


async def _guarded(stream: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
    async with aclosing(stream):
        try:
            async for item in stream:
                yield item
        except Exception as error:
            raise _shaped(error) from error


def _as_declared(stream: AsyncGenerator[T | Awaitable[object], None]) -> AsyncGenerator[T, None]:
    """The stream as its field declares it: a written event is that object, written whole. It
    is yielded as the awaitable that writes it, which graphql-core awaits when it executes the
    event, so its nested reads run where the standard executor would run them: after the
    stream has handed the event on, not before."""
    return stream  # type: ignore[return-value]


async def _visible(actor: Actor, global_id: str) -> ContractRecord:
    contract_id = decode_id(global_id, "Contract")
    contract = await reads.contract_by_id(contract_id) if contract_id else None
    if contract is None or not reads.can_see(actor, contract):
        raise _not_found()
    return contract


async def _next_notice(mailbox: Mailbox[Notice], last_sequence: int | None) -> Notice:
    try:
        return await anext(mailbox)
    except Overflowed:
        raise resync_required(last_sequence) from None


async def _read_events(contract_id: int, sequence: int, limit: int) -> list[EventRecord]:
    return await reads.events_after(contract_id, sequence, limit)


def _fresh(info: Info, build: Callable[[], T]) -> T:
    """An event's object, its nested fields read by loaders of its own."""
    info.context.loaders = Loaders()
    return build()


def _shared(
    info: Info, feed: Feed[EventRecord], record: EventRecord, currency: str
) -> ContractEvent:
    """A live event's object, and the loaders for its nested fields, shared by the subscribers
    of the feed's read."""
    loaders = feed.shared.get("loaders")
    if loaders is None:
        loaders = feed.shared["loaders"] = Loaders()
    event = feed.shared.get(record.sequence)
    if event is None:
        event = feed.shared[record.sequence] = ContractEvent.from_record(record, currency)
    info.context.loaders = loaders
    return event


async def _when_available(read: Callable[[], Awaitable[T]]) -> T:
    """A read of a live subscription. While the database is unavailable (a restart, a
    failover) it waits and tries again instead of ending the subscription, which then goes on
    from where it was, without a gap."""
    delay = 0.1
    while True:
        try:
            return await read()
        except Exception as error:
            if not is_unavailable(error):
                raise
        await asyncio.sleep(delay)
        delay = min(2 * delay, 2.0)


def _event(
    plan: Objects | None,
    info: Info,
    record: object,
    currency: str,
    standard: Callable[[], T],
    shared: MutableMapping[Hashable, Any] | None = None,
) -> T | Awaitable[object]:
    """The event to yield: the object `standard` builds, or (planned) the awaitable that writes
    it (see `_as_declared`)."""
    if plan is None:
        return standard()
    return write_event(plan, info, record, currency, standard, shared)


async def _contract_events(
    info: Info, contract_id: strawberry.ID, after_sequence: int | None
) -> AsyncGenerator[ContractEvent | Awaitable[object], None]:
    actor = await info.context.actor()
    plan = event_plan(info)
    contract = await _visible(actor, contract_id)
    fanout = info.context.runtime.bus.fanout
    with (
        fanout.subscribe(contract_id=contract.id) as mailbox,
        fanout.feed(contract.id, _read_events) as feed,
    ):
        if after_sequence is None:
            fresh = await reads.contract_by_id(contract.id)
            assert fresh is not None
            last = fresh.last_sequence
        else:
            last = max(0, after_sequence)
        while True:
            # Read for itself: the replay, or after falling behind what the feed keeps.
            records = await _when_available(
                partial(reads.events_after, contract.id, last, REPLAY_BATCH)
            )
            for record in records:
                own = partial(ContractEvent.from_record, record, contract.currency)
                standard = partial(_fresh, info, own)
                yield _event(plan, info, record, contract.currency, standard)
                last = record.sequence
            if len(records) == REPLAY_BATCH:
                continue  # more to replay
            # Caught up: from now on a wake-up's new events come from the shared feed, and so do
            # the objects built from them and the loaders for their nested fields (rows by id,
            # read after the event, the same whoever the viewer is).
            while True:
                await _next_notice(mailbox, last)
                new = await _when_available(partial(feed.after, last))
                if new is None:
                    break  # further behind than the feed keeps: read for itself again
                for record in new:
                    standard = partial(_shared, info, feed, record, contract.currency)
                    yield _event(plan, info, record, contract.currency, standard, feed.shared)
                    last = record.sequence


async def _milestone_updated(
    info: Info, contract_id: strawberry.ID | None
) -> AsyncGenerator[Milestone | Awaitable[object], None]:
    actor = await info.context.actor()
    plan = event_plan(info)
    fanout = info.context.runtime.bus.fanout
    if contract_id is not None:
        contract = await _visible(actor, contract_id)
        scope = fanout.subscribe(contract_id=contract.id)
        currencies = {contract.id: contract.currency}
    else:
        scope = fanout.subscribe(user_id=actor.user_id)
        currencies = {}
    with scope as mailbox:
        if contract_id is None:
            currencies = await reads.own_contract_currencies(actor)
        seen = {
            record.id: watched_state(record)
            for record in await reads.milestones_of_contracts(list(currencies))
        }
        while True:
            notice = await _next_notice(mailbox, None)
            if notice is RESYNC:
                if contract_id is None:
                    currencies = await reads.own_contract_currencies(actor)
                targets = list(currencies)
            else:
                if notice.contract_id not in currencies:
                    new = await reads.contract_by_id(notice.contract_id)
                    if new is None or actor.user_id not in (new.client_id, new.freelancer_id):
                        continue
                    currencies[new.id] = new.currency
                targets = [notice.contract_id]
            for record in await _when_available(partial(reads.milestones_of_contracts, targets)):
                state = watched_state(record)
                if seen.get(record.id) == state:
                    continue
                seen[record.id] = state
                currency = currencies[record.contract_id]
                standard = partial(_fresh, info, partial(Milestone.from_record, record, currency))
                yield _event(plan, info, record, currency, standard)


async def _notification_added(info: Info) -> AsyncGenerator[Notification, None]:
    """The viewer's notifications written after it subscribed. A notice to the viewer (any
    save whose notifications reach them) wakes it up, and it reads what is new, so an
    overflowed mailbox loses nothing: it reads on.

    On PostgreSQL ids are drawn before commit, so a notification may commit after one with a
    higher id: each read starts below the last `NOTIFICATION_LOOKBACK` ids delivered and skips
    those, so one that commits that late still arrives, once."""
    actor = await info.context.actor()
    with info.context.runtime.bus.fanout.subscribe(user_id=actor.user_id) as mailbox:
        recent: deque[int] = deque(maxlen=NOTIFICATION_LOOKBACK)  # every delivered id > floor
        floor = await notifications.latest_id(actor.user_id)
        while True:
            with contextlib.suppress(Overflowed):
                await anext(mailbox)
            after = floor
            while True:
                batch = await _when_available(partial(notifications.unseen, actor.user_id, after))
                for record in batch:
                    if record.id in recent:
                        continue
                    if len(recent) == NOTIFICATION_LOOKBACK:
                        floor = max(floor, recent[0])
                    recent.append(record.id)
                    yield _fresh(info, partial(Notification.from_record, record))
                if len(batch) < notifications.MAX_UNSEEN:
                    break
                after = batch[-1].id


@strawberry.type(
    description="Live updates over WebSocket (graphql-transport-ws or graphql-ws): a "
    "contract's for its parties and admins (an unknown or hidden contract ends the "
    "subscription with NOT_FOUND), and the viewer's own notifications (docs/subscriptions.md)."
)
class Subscription:
    @strawberry.subscription(
        description="Stored events after `afterSequence` (omitted: none; 0: all), then live "
        "ones, in strictly increasing sequence with no gap."
    )
    def contract_events(
        self,
        info: Info,
        contract_id: Annotated[
            strawberry.ID, strawberry.argument(description="The global id of the contract.")
        ],
        after_sequence: Annotated[
            int | None,
            strawberry.argument(
                description="The last `sequence` already seen, to resume without a gap or a "
                "duplicate; 0 for every stored event; omitted for live events only."
            ),
        ] = None,
    ) -> AsyncGenerator[ContractEvent, None]:
        return _as_declared(_guarded(_contract_events(info, contract_id, after_sequence)))

    @strawberry.subscription(
        description="A milestone as it now is, each time its status or money changes; "
        "without `contractId`, for every contract of the viewer."
    )
    def milestone_updated(
        self,
        info: Info,
        contract_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Only this contract's milestones; omitted: every contract of the "
                "viewer's."
            ),
        ] = None,
    ) -> AsyncGenerator[Milestone, None]:
        return _as_declared(_guarded(_milestone_updated(info, contract_id)))

    @strawberry.subscription(
        description="Each notification of the viewer's as it is written, from the moment of "
        "subscribing (earlier ones: `viewer.notifications`), across server processes."
    )
    def notification_added(self, info: Info) -> AsyncGenerator[Notification, None]:
        return _guarded(_notification_added(info))
