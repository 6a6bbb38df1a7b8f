"""The outbox worker's webhook attempts (docs/concepts.md#notifications): each due attempt sent
outside any transaction to a real receiver on 127.0.0.1 that checks the signature with the
`standardwebhooks` package, recorded after, retried on the schedule with the same webhook-id,
taken over when a worker died holding it, and never held up by a slow endpoint.

Time is the frozen clock's: a retry is due when the test moves the clock to it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler

import asyncpg
import pytest
from standardwebhooks.webhooks import Webhook
from starlette.requests import Request

from app.db import models
from app.graphql.ids import encode_id
from app.notifications.delivery import Attempt
from app.notifications.retries import DEFAULT_SCHEDULE, RetrySchedule
from app.services import webhooks
from app.services.outbox import (
    LEASE,
    PER_ENDPOINT,
    Outbox,
    OutboxConfig,
    Tally,
    claim_deliveries,
    oldest_pending,
    record_attempt,
)
from app.services.runtime import Runtime
from app.settings import asyncpg_dsn
from app.web.metrics import Metrics
from tests.conftest import is_postgres
from tests.notifications.receiver import Receiver, receiving
from tests.services.conftest import People
from tests.services.flows import Deal
from tests.support import FrozenClock, make_runtime

M1 = 0
CONFIG = OutboxConfig(
    mail=None,
    schedule=RetrySchedule.parse(DEFAULT_SCHEDULE),
    global_id=encode_id,
)


@pytest.fixture
def runtime(clock: FrozenClock) -> Runtime:
    """A runtime of a server with WEBHOOK_ALLOW_LOOPBACK=true: the receivers are on 127.0.0.1."""
    return dataclasses.replace(make_runtime(clock), webhook_allow_loopback=True)


@pytest.fixture
async def outbox(runtime: Runtime) -> AsyncIterator[Outbox]:
    outbox = Outbox(runtime, CONFIG)
    yield outbox
    await outbox.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving("whsec_" + "A" * 43 + "=") as receiver:
        yield receiver


async def endpoint_for(runtime: Runtime, people: People, receiver: Receiver) -> int:
    """The client's endpoint at `receiver`, which then checks signatures with its secret."""
    endpoint, secret = await webhooks.create_endpoint(
        runtime, people.client.actor, url=receiver.url()
    )
    receiver.webhook = Webhook(secret)
    return endpoint.id


async def run_whenever_due(outbox: Outbox, clock: FrozenClock, endpoint_id: int) -> None:
    """The worker run, the clock moved to the next attempt, until none is left (at most 20)."""
    for _ in range(20):
        await outbox.run_once()
        pending = await models.WebhookDelivery.filter(endpoint_id=endpoint_id, attempted_at=None)
        if not pending:
            return
        clock.now = pending[0].due_at
    raise AssertionError("still attempts pending after 20 runs")


async def attempts(endpoint_id: int) -> list[models.WebhookDelivery]:
    return await models.WebhookDelivery.filter(endpoint_id=endpoint_id).order_by("id")


async def test_a_due_attempt_is_sent_signed_once_and_recorded(
    runtime: Runtime, people: People, deal: Deal, receiver: Receiver, outbox: Outbox
) -> None:
    # given the client's endpoint, then work submitted (event 4 of the contract)
    endpoint = await endpoint_for(runtime, people, receiver)
    await deal.submit(M1)

    # when the worker runs, twice
    assert await outbox.run_once() == 1
    assert await outbox.run_once() == 0

    # then the receiver got the event once, signed, with its contract id and sequence
    [received] = receiver.received
    assert received.verified
    assert received.headers["webhook-id"] == f"msg_{endpoint}_{deal.id}_4"
    body = json.loads(received.body)
    assert body["type"] == "MILESTONE_SUBMITTED"
    assert (body["data"]["contractId"], body["data"]["sequence"]) == (
        encode_id("Contract", deal.id),
        4,
    )
    # and the attempt is recorded, with nothing to retry
    [row] = await attempts(endpoint)
    assert (row.attempt, row.status_code, row.next_retry_at) == (1, 204, None)
    assert row.attempted_at is not None and row.duration_ms is not None
    assert outbox.tally.deliveries == {"succeeded": 1}


async def test_a_failing_receiver_gets_the_same_webhook_id_until_it_answers(
    runtime: Runtime,
    people: People,
    deal: Deal,
    receiver: Receiver,
    outbox: Outbox,
    clock: FrozenClock,
) -> None:
    endpoint = await endpoint_for(runtime, people, receiver)
    receiver.script.answers = [(500, {}, b"down"), (503, {}, b"still down"), (204, {}, b"")]
    await deal.submit(M1)

    # when the worker runs whenever the next attempt is due
    await run_whenever_due(outbox, clock, endpoint)

    # then three attempts of one message, the first two failed and followed by another
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert [r.verified for r in receiver.received] == [True, True, True]
    rows = await attempts(endpoint)
    assert [(r.attempt, r.status_code, r.response_excerpt) for r in rows] == [
        (1, 500, "down"),
        (2, 503, "still down"),
        (3, 204, ""),
    ]
    first = rows[0].first_attempt_at
    assert [r.next_retry_at for r in rows] == [rows[1].due_at, rows[2].due_at, None]
    assert rows[1].due_at - first == timedelta(seconds=5)
    assert {r.first_attempt_at for r in rows} == {first}
    # and the endpoint failed for a while, then works again
    assert (await models.WebhookEndpoint.get(id=endpoint)).failing_since is None


async def test_an_attempt_held_by_a_worker_that_died_is_sent_again_when_its_lease_ends(
    runtime: Runtime,
    people: People,
    deal: Deal,
    receiver: Receiver,
    outbox: Outbox,
    clock: FrozenClock,
) -> None:
    endpoint = await endpoint_for(runtime, people, receiver)
    await deal.submit(M1)
    # given a worker that claimed the attempt and then died (it never records it)
    [dead] = await claim_deliveries(runtime, encode_id, 10)
    assert await claim_deliveries(runtime, encode_id, 10) == []

    # when the lease has not ended, no other worker takes it; once it has, one does
    clock.advance(LEASE)
    assert await outbox.run_once() == 0
    clock.advance(timedelta(seconds=1))
    assert await outbox.run_once() == 1

    # then the receiver got it with the id the dead worker would have sent
    [received] = receiver.received
    assert received.headers["webhook-id"] == dead.message_id
    # and should the first worker wake and record its own failure late, it changes nothing
    await record_attempt(runtime, CONFIG, dead, Attempt(None, 10_000, "No answer within 10 s"))
    [row] = await attempts(endpoint)
    assert (row.status_code, row.next_retry_at) == (204, None)


async def test_an_endpoint_failing_for_three_days_is_disabled_and_its_owner_told(
    runtime: Runtime,
    people: People,
    deal: Deal,
    receiver: Receiver,
    outbox: Outbox,
    clock: FrozenClock,
) -> None:
    endpoint = await endpoint_for(runtime, people, receiver)
    receiver.script.answers = [(500, {}, b"down")]
    await deal.submit(M1)
    start = clock.now

    await run_whenever_due(outbox, clock, endpoint)

    stored = await models.WebhookEndpoint.get(id=endpoint)
    assert (stored.enabled, stored.failing_since) == (False, start)
    rows = await attempts(endpoint)
    assert len(rows) == 13
    assert rows[-1].attempted_at == start + timedelta(days=3)
    [told] = await models.Notification.filter(
        recipient_id=people.client.actor.user_id, type="WEBHOOK_ENDPOINT_DISABLED"
    )
    assert receiver.url() in told.body
    # and what its contracts do now waits for it to be enabled again
    await deal.release(M1)
    assert await outbox.run_once() == 0
    assert len(receiver.received) == 13


async def test_a_slow_endpoint_does_not_hold_up_another(
    runtime: Runtime,
    people: People,
    deal: Deal,
    outbox: Outbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given two endpoints, the first one's receiver answering only when the test lets it
    with receiving("whsec_" + "A" * 43 + "=") as slow, receiving("whsec_" + "B" * 43 + "=") as fast:
        first = await endpoint_for(runtime, people, slow)
        second = await endpoint_for(runtime, people, fast)
        answer = threading.Event()
        held = slow.handle

        def held_until_told(handler: BaseHTTPRequestHandler) -> None:
            answer.wait(timeout=30)
            held(handler)

        monkeypatch.setattr(slow, "handle", held_until_told)
        await deal.submit(M1)

        # when the worker starts both attempts
        assert await outbox.start_due() == 2
        # then the second endpoint's is recorded while the first still waits for its answer
        done, _ = await asyncio.wait(set(outbox.tasks), return_when=asyncio.FIRST_COMPLETED)
        assert len(done) == 1
        assert (await attempts(second))[0].status_code == 204
        assert (await attempts(first))[0].attempted_at is None
        answer.set()
        await outbox.drain()
    assert [(r.status_code, r.attempt) for r in await attempts(first)] == [(204, 1)]


async def test_one_endpoint_takes_at_most_two_slots_of_a_worker(
    runtime: Runtime, people: People, deal: Deal, receiver: Receiver
) -> None:
    # given four events owed to one endpoint
    endpoint = await endpoint_for(runtime, people, receiver)
    await deal.submit(M1)
    await deal.revise(M1)
    await deal.submit(M1)
    await deal.release(M1)

    # when a worker with room for ten claims, twice, then another worker claims
    first = await claim_deliveries(runtime, encode_id, 10)
    busy = Counter({endpoint: len(first)})
    again = await claim_deliveries(runtime, encode_id, 10, busy)
    other = await claim_deliveries(runtime, encode_id, 10)

    # then each worker holds two at the most, and the rest are left for others
    assert (len(first), len(again), len(other)) == (PER_ENDPOINT, 0, PER_ENDPOINT)
    assert len({job.id for job in (*first, *other)}) == 4


async def test_two_workers_claim_each_attempt_once(
    runtime: Runtime, people: People, deal: Deal, receiver: Receiver
) -> None:
    # given four endpoints of the client, so an event owes four attempts
    endpoints = {await endpoint_for(runtime, people, receiver) for _ in range(4)}
    await deal.submit(M1)

    # when two workers claim at the same time (on PostgreSQL, FOR UPDATE SKIP LOCKED)
    one, other = await asyncio.gather(
        claim_deliveries(runtime, encode_id, 2), claim_deliveries(runtime, encode_id, 2)
    )

    # then each attempt went to one of them
    claimed = [job.id for job in (*one, *other)]
    assert len(claimed) == len(set(claimed)) == 4
    assert {job.endpoint_id for job in (*one, *other)} == endpoints


@pytest.mark.skipif(not is_postgres(), reason="SQLite has one worker, in serve")
async def test_a_worker_skips_the_attempts_another_one_is_claiming(
    runtime: Runtime, people: People, deal: Deal, receiver: Receiver, db_url: str
) -> None:
    # given two attempts due, one of them locked by a worker's claim still under way
    for _ in range(2):
        await endpoint_for(runtime, people, receiver)
    await deal.submit(M1)
    locked, free = [row.id for row in await models.WebhookDelivery.all().order_by("id")]
    other = await asyncpg.connect(asyncpg_dsn(db_url))
    try:
        async with other.transaction():
            await other.execute(
                "SELECT id FROM webhook_deliveries WHERE id = $1 FOR UPDATE", locked
            )
            # when another worker claims meanwhile, then it takes the other one, not waiting
            claimed = await asyncio.wait_for(claim_deliveries(runtime, encode_id, 10), timeout=5)
    finally:
        await other.close()
    assert [job.id for job in claimed] == [free]


async def test_a_test_message_is_sent_once_and_leaves_the_endpoint_as_it_was(
    runtime: Runtime, people: People, receiver: Receiver, outbox: Outbox
) -> None:
    endpoint = await endpoint_for(runtime, people, receiver)
    receiver.script.answers = [(500, {}, b"down")]
    await webhooks.send_test(runtime, people.client.actor, endpoint)

    assert await outbox.run_once() == 1

    [received] = receiver.received
    assert json.loads(received.body)["data"] == {
        "endpointId": encode_id("WebhookEndpoint", endpoint)
    }
    [row] = await attempts(endpoint)
    assert (row.status_code, row.next_retry_at) == (500, None)
    assert (await models.WebhookEndpoint.get(id=endpoint)).failing_since is None


async def test_metrics_show_attempts_by_outcome_and_the_oldest_waiting(
    runtime: Runtime,
    people: People,
    deal: Deal,
    receiver: Receiver,
    clock: FrozenClock,
) -> None:
    tally = Tally()
    metrics = Metrics(tally, pending=lambda: oldest_pending(runtime))
    outbox = Outbox(runtime, CONFIG, tally)
    await endpoint_for(runtime, people, receiver)
    await deal.submit(M1)
    clock.advance(timedelta(seconds=90))

    before = bytes((await metrics.endpoint(Request({"type": "http"}))).body).decode()
    await outbox.run_once()
    await outbox.close()
    after = bytes((await metrics.endpoint(Request({"type": "http"}))).body).decode()

    assert 'outbox_oldest_pending_seconds{kind="webhook"} 90.0' in before
    assert 'webhook_deliveries_total{outcome="succeeded"} 0.0' in before
    assert 'outbox_oldest_pending_seconds{kind="webhook"} 0.0' in after
    assert 'webhook_deliveries_total{outcome="succeeded"} 1.0' in after
    assert 'emails_total{outcome="sent"} 0.0' in after
