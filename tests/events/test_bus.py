"""The PostgreSQL bus on a real LISTEN connection: what arrives on the channel that is not a
notice (another program's `pg_notify`, a truncated payload) is dropped with one warning line,
and the notices around it still reach the subscribers."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import pytest

from app.events.bus import CHANNEL, PostgresBus
from app.events.fanout import Notice
from app.settings import asyncpg_dsn
from tests.conftest import is_postgres

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(not is_postgres(), reason="LISTEN/NOTIFY needs PostgreSQL"),
]

GARBAGE = ["not json", '{"c": 1}', '{"c": "x", "s": 1, "m": [], "p": []}', "[1, 2]", "null"]


async def test_a_malformed_notice_is_dropped_with_one_warning_and_valid_ones_still_flow(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given a started bus and a subscriber of contract 7
    bus = PostgresBus(db_url)
    await bus.start()
    sender = await asyncpg.connect(asyncpg_dsn(db_url))
    try:
        with bus.fanout.subscribe(contract_id=7) as mailbox, caplog.at_level(logging.INFO):
            # when garbage is sent on the channel between two valid notices
            await sender.execute("SELECT pg_notify($1, $2)", CHANNEL, Notice(7, 1).encode())
            for payload in GARBAGE:
                await sender.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
            await sender.execute("SELECT pg_notify($1, $2)", CHANNEL, Notice(7, 2).encode())
            # then both valid notices arrive, in order
            first = await asyncio.wait_for(anext(mailbox), 5)
            second = await asyncio.wait_for(anext(mailbox), 5)
            assert (first.sequence, second.sequence) == (1, 2)
    finally:
        await sender.close()
        await bus.stop()
    # and each malformed one left exactly one warning line, without a traceback
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(problems) == len(GARBAGE), [r.getMessage() for r in problems]
    for record in problems:
        assert record.name == "app.events"
        assert record.exc_info is None
        assert "\n" not in record.getMessage()
