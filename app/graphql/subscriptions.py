"""Subscriptions. A notice only wakes a subscriber up; what it delivers is read from the
database, so every delivery is fresh and `contractEvents` is gap-free and in order even when
events commit while the replay is being read."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from graphql import GraphQLError

from app.db import models
from app.domain.contract import Actor
from app.events.hub import RESYNC, Subscriber
from app.graphql.context import Info
from app.graphql.ids import decode_id
from app.graphql.loaders import Loaders
from app.graphql.types import ContractEvent, Milestone
from app.services import reads
from app.services.repository import milestone_from_row, watched_state

REPLAY_BATCH = 200


def _not_found() -> GraphQLError:
    return GraphQLError("No such contract", extensions={"code": "NOT_FOUND"})


def _resync_required(last_sequence: int | None) -> GraphQLError:
    return GraphQLError(
        "This subscription fell too far behind and has ended; subscribe again with "
        "afterSequence set to the last sequence received",
        extensions={"code": "RESYNC_REQUIRED", "lastSequence": last_sequence},
    )


async def _visible(actor: Actor, global_id: str) -> models.Contract:
    contract_id = decode_id(global_id, "Contract")
    row = await models.Contract.filter(id=contract_id).first() if contract_id else None
    if row is None or not reads.can_see(actor, row):
        raise _not_found()
    return row


async def _next_notice(subscriber: Subscriber, last_sequence: int | None) -> Any:
    notice = await subscriber.queue.get()
    if subscriber.overflowed:
        raise _resync_required(last_sequence)
    return notice


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Stored events after `afterSequence` (omitted: none; 0: all), then live "
        "ones, in strictly increasing sequence with no gap."
    )
    async def contract_events(
        self, info: Info, contract_id: strawberry.ID, after_sequence: int | None = None
    ) -> AsyncGenerator[ContractEvent, None]:
        actor = await info.context.actor()
        contract = await _visible(actor, contract_id)
        with info.context.runtime.bus.hub.subscribe(contract_id=contract.id) as subscriber:
            if after_sequence is None:
                fresh = await models.Contract.get(id=contract.id)
                last = fresh.last_sequence
            else:
                last = max(0, after_sequence)
            while True:
                rows = await reads.events_after(contract.id, last, REPLAY_BATCH)
                for row in rows:
                    info.context.loaders = Loaders()
                    yield ContractEvent.from_row(row, contract.currency)
                    last = row.sequence
                if len(rows) < REPLAY_BATCH:
                    await _next_notice(subscriber, last)

    @strawberry.subscription(
        description="A milestone as it now is, each time its status or money changes; "
        "without `contractId`, for every contract of the viewer."
    )
    async def milestone_updated(
        self, info: Info, contract_id: strawberry.ID | None = None
    ) -> AsyncGenerator[Milestone, None]:
        actor = await info.context.actor()
        hub = info.context.runtime.bus.hub
        if contract_id is not None:
            contract = await _visible(actor, contract_id)
            scope = hub.subscribe(contract_id=contract.id)
            currencies = {contract.id: contract.currency}
        else:
            scope = hub.subscribe(user_id=actor.user_id)
            currencies = {}
        with scope as subscriber:
            if contract_id is None:
                currencies = await reads.own_contract_currencies(actor)
            seen = {
                row.id: watched_state(milestone_from_row(row))
                for row in await reads.milestones_of_contracts(list(currencies))
            }
            while True:
                notice = await _next_notice(subscriber, None)
                if notice is RESYNC:
                    if contract_id is None:
                        currencies = await reads.own_contract_currencies(actor)
                    targets = list(currencies)
                else:
                    if notice.contract_id not in currencies:
                        new = await models.Contract.filter(id=notice.contract_id).first()
                        if new is None or actor.user_id not in (new.client_id, new.freelancer_id):
                            continue
                        currencies[new.id] = new.currency
                    targets = [notice.contract_id]
                for row in await reads.milestones_of_contracts(targets):
                    state = watched_state(milestone_from_row(row))
                    if seen.get(row.id) == state:
                        continue
                    seen[row.id] = state
                    info.context.loaders = Loaders()
                    yield Milestone.from_row(row, currencies[row.contract_id])
