"""The fan-out of notices (app/events/fanout.py) without a database: the one bounded queue
type (`Mailbox`) and its overflow, subscribers by contract and by user, and the shared feed's
reads, with fake rows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from app.events.fanout import RESYNC, Fanout, Feed, Mailbox, Notice, Overflowed


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting until {what}")


async def take(mailbox: Mailbox[int], count: int) -> list[int]:
    return [await asyncio.wait_for(anext(mailbox), 1) for _ in range(count)]


# --- Mailbox: the one bounded queue ----------------------------------------------------------


async def test_a_mailbox_hands_over_what_it_was_offered_in_order() -> None:
    mailbox: Mailbox[int] = Mailbox(3)
    for item in (1, 2, 3):
        mailbox.offer(item)
    assert await take(mailbox, 3) == [1, 2, 3]
    assert len(mailbox) == 0


async def test_a_full_mailbox_overflows_drops_what_it_held_and_raises_on_the_next_read() -> None:
    # given a mailbox of 2 that holds 2
    mailbox: Mailbox[int] = Mailbox(2)
    mailbox.offer(1)
    mailbox.offer(2)
    # when a third comes, and more after it
    mailbox.offer(3)
    mailbox.offer(4)
    # then nothing is kept, and the consumer learns it fell behind, on every read
    assert mailbox.overflowed
    assert len(mailbox) == 0
    for _ in range(2):
        with pytest.raises(Overflowed):
            await anext(mailbox)


async def test_an_overflow_wakes_a_waiting_consumer() -> None:
    mailbox: Mailbox[int] = Mailbox(1)
    waiting = asyncio.ensure_future(anext(mailbox))
    await asyncio.sleep(0)
    mailbox.offer(1)
    mailbox.offer(2)  # before the consumer ran: over the size
    with pytest.raises(Overflowed):
        await asyncio.wait_for(waiting, 1)


async def test_a_closed_mailbox_is_emptied_first_then_ends() -> None:
    mailbox: Mailbox[int] = Mailbox(2)
    mailbox.offer(1)
    mailbox.offer(2)
    mailbox.close()
    mailbox.offer(3)  # after closing: ignored
    assert [item async for item in mailbox] == [1, 2]


# --- Fanout: subscribers by contract and by user ---------------------------------------------


async def test_a_notice_reaches_the_contracts_subscribers_and_its_parties() -> None:
    fanout = Fanout()
    with (
        fanout.subscribe(contract_id=7) as of_contract,
        fanout.subscribe(contract_id=8) as other_contract,
        fanout.subscribe(user_id=1) as of_party,
        fanout.subscribe(user_id=2) as other_user,
    ):
        assert fanout.subscriber_count == 4
        notice = Notice(contract_id=7, sequence=3, party_ids=(1, 3))
        fanout.deliver(notice)
        assert await asyncio.wait_for(anext(of_contract), 1) is notice
        assert await asyncio.wait_for(anext(of_party), 1) is notice
        assert (len(other_contract), len(other_user)) == (0, 0)
        fanout.resync_all()
        for mailbox in (of_contract, other_contract, of_party, other_user):
            assert await asyncio.wait_for(anext(mailbox), 1) is RESYNC
    assert fanout.subscriber_count == 0


async def test_a_feed_lives_as_long_as_its_members() -> None:
    async def fetch(contract_id: int, after: int, limit: int) -> list[Row]:
        return []

    fanout = Fanout()
    with fanout.feed(7, fetch) as first, fanout.feed(7, fetch) as second:
        assert first is second
        assert fanout.feed_count == 1
    assert fanout.feed_count == 0


# --- Feed: one shared read per wake-up -------------------------------------------------------


@dataclass(frozen=True)
class Row:
    sequence: int


def numbers(rows: list[Row] | None) -> list[int]:
    assert rows is not None
    return [row.sequence for row in rows]


async def test_a_feed_read_in_flight_when_a_notice_comes_does_not_count_for_it() -> None:
    """The race the feed must not lose: a read whose query ran before a commit cannot deliver
    that commit, so a subscriber woken by its notice waits for a read started afterwards."""
    stored = [Row(1), Row(2)]
    queries: list[int] = []
    answer = asyncio.Event()

    async def fetch(contract_id: int, after: int, limit: int) -> list[Row]:
        rows = [row for row in stored if row.sequence > after][:limit]  # the query runs now
        queries.append(after)
        await answer.wait()  # and its rows come back later
        return rows

    feed = Feed(7, fetch)
    feed.notify()
    first = asyncio.create_task(feed.after(0))
    await until(lambda: len(queries) == 1, "the first read ran its query")

    stored.append(Row(3))  # a commit, and its notice, while that read is in flight
    feed.notify()
    second = asyncio.create_task(feed.after(2))
    answer.set()

    assert numbers(await first) == [1, 2]
    assert numbers(await second) == [3]
    assert queries == [0, 2]
    # without a newer notice, nothing is read again
    assert await feed.after(3) == []
    assert queries == [0, 2]


async def test_a_feed_read_survives_the_subscriber_that_started_it_going_away() -> None:
    answer = asyncio.Event()

    async def fetch(contract_id: int, after: int, limit: int) -> list[Row]:
        await answer.wait()
        return [Row(after + 1)]

    feed = Feed(7, fetch)
    feed.notify()
    starter = asyncio.create_task(feed.after(0))
    await asyncio.sleep(0.01)
    waiter = asyncio.create_task(feed.after(0))
    await asyncio.sleep(0.01)
    starter.cancel()
    answer.set()

    assert numbers(await waiter) == [1]
    with pytest.raises(asyncio.CancelledError):
        await starter
