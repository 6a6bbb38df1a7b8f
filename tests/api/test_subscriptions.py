"""Subscriptions in-process (§4, §6.19 to §6.22, §6.39): `contractEvents` replays then goes live
with no gap and no duplicate, `milestoneUpdated` tells the milestone as it now is, hidden or
unknown contracts end with one NOT_FOUND, and a subscriber too slow for its queue ends with
RESYNC_REQUIRED.

Subscriptions run through `schema.subscribe` with the same runtime (and so the same fan-out)
as the in-process app that the mutations go through.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import pytest
from graphql import ExecutionResult

from app.events import fanout
from app.graphql import subscriptions
from app.graphql.context import Context
from app.graphql.ids import encode_id
from app.graphql.schema import build_schema
from app.services import read_rows, reads
from app.services.runtime import Runtime
from tests.api.client import Api
from tests.api.operations import Payload, create_contract, milestone_input
from tests.api.people import Parties
from tests.api.scenarios import active, milestone_ids, offered

schema = build_schema()

TIMEOUT = 5.0  # only bounds a failing wait: a passing one ends when the server delivers
QUIET = 0.2  # how long `Stream.quiet` watches, where no event can reach the subscription

CONTRACT_EVENTS = """
subscription($id: ID!, $after: Int) {
  contractEvents(contractId: $id, afterSequence: $after) {
    id sequence type
    amount { amount currency }
    actor { id }
    milestone { id status fundedAmount { amount } releasedAmount { amount } }
  }
}
"""

MILESTONE_UPDATED = """
subscription($id: ID) {
  milestoneUpdated(contractId: $id) {
    id position status
    amount { amount currency }
    fundedAmount { amount }
    releasedAmount { amount }
    contract { id }
  }
}
"""

# Light mutations: the events are what matters here, not the payloads.
PAY_BONUS = """
mutation($input: PayBonusInput!) { payBonus(input: $input) { userErrors { code message } } }
"""
FUND = """
mutation($input: FundMilestoneInput!) {
  fundMilestone(input: $input) { userErrors { code message } }
}
"""
SUBMIT = """
mutation($input: SubmitMilestoneInput!) {
  submitMilestone(input: $input) { userErrors { code message } }
}
"""
RELEASE = """
mutation($input: ReleaseMilestoneInput!) {
  releaseMilestone(input: $input) { userErrors { code message } }
}
"""
PROPOSE = """
mutation($input: ProposeMilestoneChangesInput!) {
  proposeMilestoneChanges(input: $input) { changeRequest { id } userErrors { code message } }
}
"""
ACCEPT_CHANGES = """
mutation($input: AcceptChangeRequestInput!) {
  acceptChangeRequest(input: $input) { userErrors { code message } }
}
"""


# --- driving subscriptions -------------------------------------------------------------------


Results = AsyncGenerator[ExecutionResult, None]


async def open_subscription(
    runtime: Runtime, token: str | None, query: str, variables: dict[str, Any]
) -> Results:
    results = await schema.subscribe(
        query, variable_values=variables, context_value=Context(runtime=runtime, token=token)
    )
    assert hasattr(results, "__anext__"), results
    return results  # type: ignore[return-value]


async def take(results: Results) -> ExecutionResult:
    return await asyncio.wait_for(anext(results), TIMEOUT)


def data(result: ExecutionResult, field: str) -> Payload:
    assert not result.errors, [e.formatted for e in result.errors]
    assert result.data is not None
    payload: Payload = result.data[field]
    return payload


class Stream:
    """A subscription iterated in the background, its results queued as they arrive."""

    def __init__(self, results: Results, field: str) -> None:
        self.results = results
        self.field = field
        self.queue: asyncio.Queue[ExecutionResult | None] = asyncio.Queue()
        self.task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        try:
            async for result in self.results:
                await self.queue.put(result)
        finally:
            await self.queue.put(None)

    async def result(self) -> ExecutionResult | None:
        """The next result, or None once the subscription has ended."""
        return await asyncio.wait_for(self.queue.get(), TIMEOUT)

    async def next(self) -> Payload:
        result = await self.result()
        assert result is not None, "the subscription ended"
        return data(result, self.field)

    async def take(self, count: int) -> list[Payload]:
        return [await self.next() for _ in range(count)]

    async def quiet(self) -> None:
        """Nothing arrives for a while. Only for where no event can reach the subscription;
        elsewhere a sentinel shows it without a fixed wait (`nothing_arrives_before_*`)."""
        await asyncio.sleep(QUIET)
        assert self.queue.empty(), [self.queue.get_nowait() for _ in range(self.queue.qsize())]

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.results.aclose()


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(int(TIMEOUT / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting until {what}")


class Subscribe:
    """Opens subscriptions in the background and waits until each is listening on the fan-out."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.streams: list[Stream] = []

    @property
    def listening(self) -> int:
        return self.runtime.bus.fanout.subscriber_count

    async def __call__(self, token: str, query: str, field: str, **variables: Any) -> Stream:
        before = self.listening
        stream = Stream(await open_subscription(self.runtime, token, query, variables), field)
        self.streams.append(stream)
        await until(lambda: self.listening > before, "the subscriber is on the fan-out")
        return stream

    async def contract_events(self, token: str, contract_id: str, after: int | None) -> Stream:
        return await self(token, CONTRACT_EVENTS, "contractEvents", id=contract_id, after=after)

    async def milestone_updated(self, token: str, contract_id: str | None = None) -> Stream:
        return await self(token, MILESTONE_UPDATED, "milestoneUpdated", id=contract_id)


@pytest.fixture
async def subscribe(runtime: Runtime) -> AsyncGenerator[Subscribe, None]:
    subscriptions = Subscribe(runtime)
    yield subscriptions
    for stream in subscriptions.streams:
        await stream.close()
    assert runtime.bus.fanout.subscriber_count == 0, "a finished subscription left the fan-out"


# --- mutations -------------------------------------------------------------------------------


async def mutate(api: Api, token: str, query: str, **fields: Any) -> Payload:
    result = await api.ok(query, {"input": fields}, token)
    payload: Payload = next(iter(result.values()))
    return payload


async def bonus(api: Api, parties: Parties, contract_id: str, amount: str = "1.00") -> None:
    await mutate(api, parties.client.token, PAY_BONUS, contractId=contract_id, amount=amount)


async def fund(api: Api, parties: Parties, milestone_id: str) -> None:
    await mutate(api, parties.client.token, FUND, milestoneId=milestone_id)


async def submit(api: Api, parties: Parties, milestone_id: str) -> None:
    await mutate(api, parties.freelancer.token, SUBMIT, milestoneId=milestone_id, message="Done")


async def release(api: Api, parties: Parties, milestone_id: str) -> None:
    await mutate(api, parties.client.token, RELEASE, milestoneId=milestone_id)


def sequences(events: list[Payload]) -> list[int]:
    return [event["sequence"] for event in events]


# "Nothing (more) arrives", shown by a sentinel: an event the subscription must receive is
# caused, and the very next delivery must be that event, so nothing came before it.


async def nothing_arrives_before_a_bonus(
    stream: Stream, api: Api, parties: Parties, contract_id: str, sequence: int
) -> None:
    """On `contractEvents`: a bonus paid now is the next event, numbered `sequence`."""
    await bonus(api, parties, contract_id)
    event = await stream.next()
    assert (event["sequence"], event["type"]) == (sequence, "BONUS_PAID"), event


async def nothing_arrives_before_the_update(
    stream: Stream, change: Awaitable[None], milestone_id: str, status: str
) -> None:
    """On `milestoneUpdated`: the milestone that `change` moves to `status` is the next update."""
    await change
    update = await stream.next()
    assert (update["id"], update["status"]) == (milestone_id, status), update


def error_of(result: ExecutionResult | None) -> dict[str, Any]:
    assert result is not None, "the subscription ended without an error"
    assert result.data is None
    assert result.errors is not None and len(result.errors) == 1, result.errors
    formatted: dict[str, Any] = dict(result.errors[0].formatted)
    return formatted


# --- contractEvents: replay and live ---------------------------------------------------------


async def test_without_after_sequence_only_live_events_arrive(
    api: Api, parties: Parties, subscribe: Subscribe
) -> None:
    # given an accepted contract: CONTRACT_OFFERED (1) and CONTRACT_ACCEPTED (2) are stored
    contract = await active(api, parties)
    stream = await subscribe.contract_events(parties.client.token, contract["id"], None)

    # when
    await fund(api, parties, milestone_ids(contract)[0])
    await bonus(api, parties, contract["id"], "7.50")

    # then the first two deliveries are these live events: nothing stored was replayed
    funded, paid = await stream.take(2)
    assert (funded["sequence"], funded["type"]) == (3, "MILESTONE_FUNDED")
    assert funded["amount"] == {"amount": "100.00", "currency": "USD"}
    assert funded["actor"] == {"id": parties.client.id}
    assert funded["milestone"]["id"] == milestone_ids(contract)[0]
    assert (paid["sequence"], paid["type"]) == (4, "BONUS_PAID")
    assert paid["amount"] == {"amount": "7.50", "currency": "USD"}
    assert paid["milestone"] is None
    await nothing_arrives_before_a_bonus(stream, api, parties, contract["id"], 5)


async def test_after_sequence_zero_replays_everything_then_goes_live(
    api: Api, parties: Parties, subscribe: Subscribe
) -> None:
    # given
    contract = await active(api, parties)
    await fund(api, parties, milestone_ids(contract)[0])

    # when
    stream = await subscribe.contract_events(parties.freelancer.token, contract["id"], 0)
    replayed = await stream.take(3)
    await bonus(api, parties, contract["id"])
    live = await stream.next()

    # then
    assert [(e["sequence"], e["type"]) for e in replayed] == [
        (1, "CONTRACT_OFFERED"),
        (2, "CONTRACT_ACCEPTED"),
        (3, "MILESTONE_FUNDED"),
    ]
    assert (live["sequence"], live["type"]) == (4, "BONUS_PAID")
    await nothing_arrives_before_a_bonus(stream, api, parties, contract["id"], 5)


async def test_after_sequence_n_replays_only_the_later_events(
    api: Api, parties: Parties, subscribe: Subscribe
) -> None:
    # given
    contract = await active(api, parties)
    await fund(api, parties, milestone_ids(contract)[0])
    await bonus(api, parties, contract["id"])

    # when
    stream = await subscribe.contract_events(parties.client.token, contract["id"], 2)
    replayed = await stream.take(2)
    await bonus(api, parties, contract["id"])

    # then
    assert sequences(replayed) == [3, 4]
    assert (await stream.next())["sequence"] == 5
    await nothing_arrives_before_a_bonus(stream, api, parties, contract["id"], 6)


async def test_after_sequence_at_or_beyond_the_last_waits_for_live_events(
    api: Api, parties: Parties, subscribe: Subscribe
) -> None:
    contract = await active(api, parties)
    at_last = await subscribe.contract_events(parties.client.token, contract["id"], 2)
    negative = await subscribe.contract_events(parties.client.token, contract["id"], -5)

    await bonus(api, parties, contract["id"])

    assert sequences(await at_last.take(1)) == [3]  # the first delivery: nothing was replayed
    assert sequences(await negative.take(3)) == [1, 2, 3]  # below zero reads as 0


async def test_events_committed_between_iterations_of_the_replay_arrive_once_in_order(
    api: Api, parties: Parties, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a contract with 6 events, and a replay that reads 2 rows at a time
    monkeypatch.setattr(subscriptions, "REPLAY_BATCH", 2)
    contract = await active(api, parties)
    await fund(api, parties, milestone_ids(contract)[0])
    for _ in range(3):
        await bonus(api, parties, contract["id"])
    results = await open_subscription(
        runtime, parties.client.token, CONTRACT_EVENTS, {"id": contract["id"], "after": 0}
    )

    # when an event commits after every event taken, while the replay is still being read
    received = []
    try:
        for _ in range(12):
            received.append(data(await take(results), "contractEvents"))
            if len(received) <= 6:
                await bonus(api, parties, contract["id"])
    finally:
        await results.aclose()

    # then every stored event arrives once, in order, the late ones after the earlier ones
    assert sequences(received) == list(range(1, 13))
    assert [e["type"] for e in received[5:]] == ["BONUS_PAID"] * 7
    assert runtime.bus.fanout.subscriber_count == 0


@pytest.mark.parametrize("moment", ["before", "after"])
async def test_an_event_committed_around_the_replay_read_arrives_exactly_once(
    api: Api,
    parties: Parties,
    subscribe: Subscribe,
    monkeypatch: pytest.MonkeyPatch,
    moment: str,
) -> None:
    """The race of "subscribe, then read": a commit just before the read is in the rows and its
    notice must not repeat it; a commit just after the read is missing from the rows and its
    notice must bring it."""
    # given
    contract = await active(api, parties)
    commits: list[Awaitable[None]] = [bonus(api, parties, contract["id"], "3.00")]
    events_after = reads.events_after

    async def read_with_a_commit(contract_id: int, sequence: int, limit: int) -> Any:
        if commits and moment == "before":
            await commits.pop()
        rows = await events_after(contract_id, sequence, limit)
        if commits and moment == "after":
            await commits.pop()
        return rows

    monkeypatch.setattr(reads, "events_after", read_with_a_commit)

    # when
    stream = await subscribe.contract_events(parties.client.token, contract["id"], 0)

    # then
    received = await stream.take(3)
    assert [(e["sequence"], e["type"]) for e in received] == [
        (1, "CONTRACT_OFFERED"),
        (2, "CONTRACT_ACCEPTED"),
        (3, "BONUS_PAID"),
    ]
    assert not commits
    await nothing_arrives_before_a_bonus(stream, api, parties, contract["id"], 4)


async def test_a_live_only_subscription_misses_nothing_committed_while_it_starts(
    api: Api, parties: Parties, subscribe: Subscribe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Omitted afterSequence: the starting point is read after joining the fan-out, so an event
    that commits right after that read is still delivered."""
    contract = await active(api, parties)
    pending: list[Awaitable[None]] = [bonus(api, parties, contract["id"])]
    events_after = reads.events_after

    async def first_read_then_commit(contract_id: int, sequence: int, limit: int) -> Any:
        rows = await events_after(contract_id, sequence, limit)
        if pending:
            await pending.pop()
        return rows

    monkeypatch.setattr(reads, "events_after", first_read_then_commit)

    stream = await subscribe.contract_events(parties.client.token, contract["id"], None)

    assert sequences(await stream.take(1)) == [3]
    await nothing_arrives_before_a_bonus(stream, api, parties, contract["id"], 4)


# --- contractEvents: who may subscribe -------------------------------------------------------


async def test_admin_may_subscribe_to_any_contract(
    api: Api, parties: Parties, subscribe: Subscribe
) -> None:
    contract = await active(api, parties)

    stream = await subscribe.contract_events(parties.admin.token, contract["id"], 0)
    await bonus(api, parties, contract["id"])

    assert sequences(await stream.take(3)) == [1, 2, 3]


async def test_a_hidden_contract_ends_with_one_not_found(
    api: Api, parties: Parties, runtime: Runtime
) -> None:
    contract = await offered(api, parties)
    for query, variables in [
        (CONTRACT_EVENTS, {"id": contract["id"], "after": 0}),
        (MILESTONE_UPDATED, {"id": contract["id"]}),
    ]:
        results = await open_subscription(runtime, parties.outsider.token, query, variables)
        error = error_of(await take(results))
        assert error["extensions"] == {"code": "NOT_FOUND"}
        assert contract["title"] not in str(error)
        with pytest.raises(StopAsyncIteration):
            await take(results)
    assert runtime.bus.fanout.subscriber_count == 0


@pytest.mark.parametrize(
    "contract_id",
    [
        "",
        "not-an-id",
        "!!!",
        "x" * 300,
        encode_id("Contract", 987_654_321),
        encode_id("Contract", 2**63 - 1),
        encode_id("Milestone", 1),
        encode_id("User", 1),
    ],
)
async def test_a_malformed_or_unknown_id_ends_with_one_not_found(
    parties: Parties, runtime: Runtime, contract_id: str
) -> None:
    for query in (CONTRACT_EVENTS, MILESTONE_UPDATED):
        results = await open_subscription(
            runtime, parties.admin.token, query, {"id": contract_id, "after": 0}
        )
        error = error_of(await take(results))
        assert error["extensions"] == {"code": "NOT_FOUND"}, error
        with pytest.raises(StopAsyncIteration):
            await take(results)


@pytest.mark.parametrize("token", [None, "not-a-token"])
async def test_without_a_valid_token_a_subscription_is_unauthenticated(
    api: Api, parties: Parties, runtime: Runtime, token: str | None
) -> None:
    contract = await offered(api, parties)
    for query in (CONTRACT_EVENTS, MILESTONE_UPDATED):
        results = await open_subscription(runtime, token, query, {"id": contract["id"]})
        error = error_of(await take(results))
        assert error["extensions"] == {"code": "UNAUTHENTICATED"}, error


async def test_an_unexpected_failure_is_masked_as_internal(
    api: Api,
    parties: Parties,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    contract = await active(api, parties)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError('relation "contract_event" does not exist: SELECT secret')

    monkeypatch.setattr(reads, "events_after", broken)
    results = await open_subscription(
        runtime, parties.client.token, CONTRACT_EVENTS, {"id": contract["id"], "after": 0}
    )

    error = error_of(await take(results))
    assert error["extensions"] == {"code": "INTERNAL"}, error
    assert "SELECT" not in str(error) and "relation" not in str(error)
    assert "SELECT secret" in caplog.text  # logged for the operators
    assert runtime.bus.fanout.subscriber_count == 0


# --- contractEvents: fresh data and slow consumers -------------------------------------------


async def test_each_delivery_reads_the_milestone_as_it_now_is(
    api: Api, parties: Parties, subscribe: Subscribe
) -> None:
    contract = await active(api, parties)
    first = milestone_ids(contract)[0]
    stream = await subscribe.contract_events(parties.client.token, contract["id"], None)

    await fund(api, parties, first)
    funded = await stream.next()
    await submit(api, parties, first)
    submitted = await stream.next()
    await release(api, parties, first)
    released = await stream.next()

    assert [e["type"] for e in (funded, submitted, released)] == [
        "MILESTONE_FUNDED",
        "MILESTONE_SUBMITTED",
        "MILESTONE_RELEASED",
    ]
    assert [e["milestone"]["status"] for e in (funded, submitted, released)] == [
        "FUNDED",
        "SUBMITTED",
        "RELEASED",
    ]
    assert funded["milestone"]["releasedAmount"] == {"amount": "0.00"}
    assert released["milestone"]["releasedAmount"] == {"amount": "100.00"}


async def test_a_consumer_too_slow_for_its_queue_ends_with_resync_required(
    api: Api,
    parties: Parties,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a live subscriber with a queue of 4 that has taken one event
    monkeypatch.setattr(fanout, "QUEUE_SIZE", 4)
    contract = await active(api, parties)
    results = await open_subscription(
        runtime, parties.client.token, CONTRACT_EVENTS, {"id": contract["id"]}
    )
    first = asyncio.ensure_future(take(results))
    await until(
        lambda: runtime.bus.fanout.subscriber_count == 1, "the subscriber is on the fan-out"
    )
    await fund(api, parties, milestone_ids(contract)[0])
    assert data(await first, "contractEvents")["sequence"] == 3

    # when more than the queue holds commits while it does not read
    for _ in range(4 + 2):
        await bonus(api, parties, contract["id"])

    # then reading on ends the subscription with one RESYNC_REQUIRED naming the last delivered
    error = error_of(await take(results))
    assert error["extensions"] == {"code": "RESYNC_REQUIRED", "lastSequence": 3}
    with pytest.raises(StopAsyncIteration):
        await take(results)
    assert runtime.bus.fanout.subscriber_count == 0

    # and subscribing again after the last sequence received gets exactly the missed events
    again = await open_subscription(
        runtime, parties.client.token, CONTRACT_EVENTS, {"id": contract["id"], "after": 3}
    )
    try:
        missed = [data(await take(again), "contractEvents") for _ in range(6)]
    finally:
        await again.aclose()
    assert sequences(missed) == [4, 5, 6, 7, 8, 9]


async def test_a_queue_that_never_fills_never_asks_for_a_resync(
    api: Api, parties: Parties, subscribe: Subscribe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fanout, "QUEUE_SIZE", 4)
    contract = await active(api, parties)
    stream = await subscribe.contract_events(parties.client.token, contract["id"], None)

    # the background reader keeps the queue short (never more than two notices waiting, on
    # SQLite too, where the subscriber's reads wait for each mutation's transaction), so all
    # ten arrive
    received = []
    for _ in range(5):
        await bonus(api, parties, contract["id"])
        await bonus(api, parties, contract["id"])
        received += await stream.take(2)
    assert sequences(received) == list(range(3, 13))


async def test_a_fanout_resync_after_lost_notices_delivers_what_was_missed(
    api: Api, parties: Parties, runtime: Runtime, subscribe: Subscribe
) -> None:
    """What PostgresBus does after its LISTEN connection came back: notices sent meanwhile are
    lost, and `resync_all` makes every subscriber read again."""
    # given subscribers, and notices that stop reaching the fan-out
    contract = await active(api, parties)
    first = milestone_ids(contract)[0]
    events = await subscribe.contract_events(parties.client.token, contract["id"], None)
    milestones = await subscribe.milestone_updated(parties.freelancer.token)
    with pytest.MonkeyPatch.context() as lost:
        lost.setattr(runtime.bus, "committed", lambda notice: None)

        # when
        await fund(api, parties, first)
        await bonus(api, parties, contract["id"])
        await events.quiet()  # a sleep: with every notice lost, no sentinel could arrive
        runtime.bus.fanout.resync_all()

        # then
        assert sequences(await events.take(2)) == [3, 4]
        updated = await milestones.next()
        assert (updated["id"], updated["status"]) == (first, "FUNDED")

    # and once notices arrive again, the next change is the next delivery: no repeat came
    await nothing_arrives_before_the_update(
        milestones, submit(api, parties, first), first, "SUBMITTED"
    )
    submitted = await events.next()
    assert (submitted["sequence"], submitted["type"]) == (5, "MILESTONE_SUBMITTED"), submitted


# --- milestoneUpdated ------------------------------------------------------------------------


async def test_milestone_updated_for_one_contract(
    api: Api, parties: Parties, subscribe: Subscribe
) -> None:
    # given two contracts between the same parties, one watched
    watched = await active(api, parties)
    other = await active(api, parties)
    first = milestone_ids(watched)[0]
    stream = await subscribe.milestone_updated(parties.freelancer.token, watched["id"])

    # when (each change waited for: a change committed while the subscriber reads the one
    # before is told once, as the milestone then is)
    await fund(api, parties, milestone_ids(other)[0])
    await bonus(api, parties, watched["id"])  # no milestone changes
    updates = []
    for change in (fund, submit, release):
        await change(api, parties, first)
        updates.append(await stream.next())

    # then only the watched contract's milestone arrives, as it is after each change
    assert {u["id"] for u in updates} == {first}
    assert {u["contract"]["id"] for u in updates} == {watched["id"]}
    assert [u["status"] for u in updates] == ["FUNDED", "SUBMITTED", "RELEASED"]
    assert [u["fundedAmount"]["amount"] for u in updates] == ["100.00"] * 3
    assert [u["releasedAmount"]["amount"] for u in updates] == ["0.00", "0.00", "100.00"]
    second = milestone_ids(watched)[1]
    await nothing_arrives_before_the_update(stream, fund(api, parties, second), second, "FUNDED")


async def test_milestone_updated_without_contract_id_follows_every_contract_of_the_viewer(
    api: Api, parties: Parties, subscribe: Subscribe
) -> None:
    # given a freelancer watching all their contracts, and one contract of other people
    existing = await active(api, parties)
    stream = await subscribe.milestone_updated(parties.freelancer.token)
    outsiders = await create_contract(
        api, parties.outsider.token, parties.client.id, [milestone_input("20.00")]
    )

    # when a contract is created after the subscription started, and funded
    created = await offered(api, parties, "40.00")
    await fund(api, parties, milestone_ids(created)[0])
    await fund(api, parties, milestone_ids(existing)[0])

    # then the new contract's milestone arrives (first as offered, then funded), and the
    # existing one's; nothing of the contract between other people
    updates = await stream.take(3)
    assert [(u["id"], u["status"]) for u in updates] == [
        (milestone_ids(created)[0], "NOT_FUNDED"),
        (milestone_ids(created)[0], "FUNDED"),
        (milestone_ids(existing)[0], "FUNDED"),
    ]
    assert updates[1]["fundedAmount"] == {"amount": "40.00"}
    assert outsiders["contract"]["id"] not in {u["contract"]["id"] for u in updates}
    first = milestone_ids(existing)[0]
    await nothing_arrives_before_the_update(stream, submit(api, parties, first), first, "SUBMITTED")


async def test_milestone_updated_without_contract_id_ignores_other_peoples_contracts(
    api: Api, parties: Parties, subscribe: Subscribe
) -> None:
    theirs = await active(api, parties)
    stream = await subscribe.milestone_updated(parties.outsider.token)

    await fund(api, parties, milestone_ids(theirs)[0])

    # the sentinel: a contract of the outsider's own, whose milestone is the next update
    own = await create_contract(
        api, parties.outsider.token, parties.client.id, [milestone_input("20.00")]
    )
    update = await stream.next()
    assert (update["contract"]["id"], update["status"]) == (own["contract"]["id"], "NOT_FUNDED")


async def test_milestone_updated_for_an_admin_watching_a_contract_of_others(
    api: Api, parties: Parties, subscribe: Subscribe
) -> None:
    contract = await active(api, parties)
    stream = await subscribe.milestone_updated(parties.admin.token, contract["id"])

    await fund(api, parties, milestone_ids(contract)[0])

    assert (await stream.next())["status"] == "FUNDED"


async def test_accepted_change_requests_trigger_milestone_updated(
    api: Api, parties: Parties, subscribe: Subscribe
) -> None:
    # given an active contract of two milestones, watched by the client
    contract = await active(api, parties, "100.00", "50.00")
    first, second = milestone_ids(contract)
    stream = await subscribe.milestone_updated(parties.client.token, contract["id"])

    # when the freelancer proposes a new amount and one more milestone ...
    proposed = await mutate(
        api,
        parties.freelancer.token,
        PROPOSE,
        contractId=contract["id"],
        message="More work",
        changes=[
            {"action": "UPDATE", "milestoneId": second, "amount": "80.00"},
            {"action": "ADD", "title": "Extra", "amount": "30.00"},
        ],
    )
    # ... and the client accepts (a proposal changes nothing yet: the next updates are the
    # acceptance's)
    await mutate(
        api,
        parties.client.token,
        ACCEPT_CHANGES,
        changeRequestId=proposed["changeRequest"]["id"],
    )

    # then the changed and the added milestones arrive, as they now are
    updates = await stream.take(2)
    assert updates[0]["id"] == second
    assert (updates[0]["position"], updates[0]["amount"]["amount"]) == (2, "80.00")
    assert updates[1]["id"] not in (first, second)
    assert (updates[1]["position"], updates[1]["amount"]["amount"]) == (3, "30.00")
    assert updates[1]["status"] == "NOT_FUNDED"
    await nothing_arrives_before_the_update(stream, fund(api, parties, first), first, "FUNDED")


async def test_milestone_updated_too_slow_ends_with_resync_required(
    api: Api,
    parties: Parties,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fanout, "QUEUE_SIZE", 2)
    contract = await active(api, parties)
    results = await open_subscription(
        runtime, parties.client.token, MILESTONE_UPDATED, {"id": contract["id"]}
    )
    first = asyncio.ensure_future(take(results))
    await until(
        lambda: runtime.bus.fanout.subscriber_count == 1, "the subscriber is on the fan-out"
    )
    await fund(api, parties, milestone_ids(contract)[0])
    assert data(await first, "milestoneUpdated")["status"] == "FUNDED"

    for _ in range(4):
        await bonus(api, parties, contract["id"])

    error = error_of(await take(results))
    assert error["extensions"]["code"] == "RESYNC_REQUIRED"
    with pytest.raises(StopAsyncIteration):
        await take(results)


# --- the shared feed: one read per wake-up for all subscribers of a contract -----------------


async def test_subscribers_of_one_contract_share_one_read_per_event(
    api: Api, parties: Parties, subscribe: Subscribe, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given five live subscribers of one contract, each done with its own first read
    contract = await active(api, parties)
    reads_made: list[int] = []
    events_after = reads.events_after

    async def counted(contract_id: int, sequence: int, limit: int) -> Any:
        rows = await events_after(contract_id, sequence, limit)
        reads_made.append(sequence)  # once the read is done
        return rows

    monkeypatch.setattr(reads, "events_after", counted)
    streams = [
        await subscribe.contract_events(parties.client.token, contract["id"], None)
        for _ in range(5)
    ]
    await until(lambda: len(reads_made) == 5, "each subscriber read up to the head itself")
    reads_made.clear()

    # when two events commit, one after the other
    for expected in (3, 4):
        await bonus(api, parties, contract["id"])
        for stream in streams:
            assert (await stream.next())["sequence"] == expected

    # then each was read once for all five
    assert reads_made == [2, 3]


async def test_a_subscriber_behind_what_the_feed_keeps_reads_for_itself(
    api: Api,
    parties: Parties,
    runtime: Runtime,
    subscribe: Subscribe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a feed that keeps 2 rows (trimmed beyond 4), a reader at the head, and one that
    # took event 3 and then stopped reading
    monkeypatch.setattr(fanout, "KEEP", 2)
    contract = await active(api, parties)
    results = await open_subscription(
        runtime, parties.client.token, CONTRACT_EVENTS, {"id": contract["id"]}
    )
    first = asyncio.ensure_future(take(results))
    await until(
        lambda: runtime.bus.fanout.subscriber_count == 1, "the subscriber is on the fan-out"
    )
    head = await subscribe.contract_events(parties.freelancer.token, contract["id"], None)
    await bonus(api, parties, contract["id"])
    assert data(await first, "contractEvents")["sequence"] == 3
    assert (await head.next())["sequence"] == 3

    # when ten more commit, which the head reader takes as they come
    for expected in range(4, 14):
        await bonus(api, parties, contract["id"])
        assert (await head.next())["sequence"] == expected

    # then the one behind still gets every event once, in order
    try:
        behind = [data(await take(results), "contractEvents")["sequence"] for _ in range(10)]
    finally:
        await results.aclose()
    assert behind == list(range(4, 14))


async def test_feeds_come_and_go_with_their_subscribers(
    api: Api, parties: Parties, runtime: Runtime, subscribe: Subscribe
) -> None:
    contract = await active(api, parties)
    fan = runtime.bus.fanout
    streams = [
        await subscribe.contract_events(parties.client.token, contract["id"], 0) for _ in range(2)
    ]
    assert fan.feed_count == 1

    for stream in streams:
        await stream.close()
    subscribe.streams.clear()

    assert fan.feed_count == 0
    assert fan.subscriber_count == 0


async def test_nested_fields_of_a_live_event_are_read_once_for_all_subscribers(
    api: Api, parties: Parties, subscribe: Subscribe, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given five live subscribers (both parties and the admin) selecting nested objects, and
    # the reads of users and milestones counted
    contract = await active(api, parties)
    unwatched = await active(api, parties)
    tokens = [parties.client.token, parties.freelancer.token, parties.admin.token] * 2
    streams = [await subscribe.contract_events(token, contract["id"], None) for token in tokens[:5]]
    # by the standard executor's loaders (`reads`) or by the compiled path's (`read_rows`)
    batches: dict[str, int] = {"users_by_id": 0, "milestones_by_id": 0}
    for module, name, kind in (
        (reads, "users_by_id", "users_by_id"),
        (reads, "milestones_by_id", "milestones_by_id"),
        (read_rows, "users", "users_by_id"),
        (read_rows, "milestones_by_id", "milestones_by_id"),
    ):
        original = getattr(module, name)

        async def counted(*args: Any, original: Any = original, kind: str = kind) -> Any:
            batches[kind] += 1
            return await original(*args)

        monkeypatch.setattr(module, name, counted)
    await fund(api, parties, milestone_ids(unwatched)[0])
    by_the_mutation = dict(batches)  # what funding reads for its own payload

    # when the watched contract's milestone is funded
    await fund(api, parties, milestone_ids(contract)[0])

    # then every subscriber gets the nested objects, read in one batch for all of them
    for stream in streams:
        event = await stream.next()
        assert event["actor"] == {"id": parties.client.id}
        assert event["milestone"]["status"] == "FUNDED"
    assert {name: batches[name] - 2 * by_the_mutation[name] for name in batches} == {
        "users_by_id": 1,
        "milestones_by_id": 1,
    }
