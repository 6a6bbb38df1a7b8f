"""The loop that runs the jobs of a process (app/services/workers.py): a failing run is logged
and the next one tries again; an outage is told when it starts and when it ends, not at each
run of a loop that runs every second."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from app.services.workers import repeat


async def test_an_outage_is_one_line_when_it_starts_and_one_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given a job that finds the database away three times, fails once for a bug, then works
    outcomes: list[BaseException | None] = [
        ConnectionRefusedError("away"),
        ConnectionRefusedError("away"),
        ConnectionRefusedError("away"),
        None,
        ValueError("a bug"),
    ]
    done = asyncio.Event()

    async def job() -> None:
        if not outcomes:
            done.set()
            return
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    # when the loop runs it until it has run out of outcomes
    with caplog.at_level(logging.INFO, logger="app.jobs"):
        loop = asyncio.create_task(repeat("outbox pass", timedelta(0), job))
        await done.wait()
        loop.cancel()

    # then
    lines = [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert lines == [
        (
            "WARNING",
            "The outbox pass found the database unavailable (ConnectionRefusedError); "
            "trying again every 0:00:00",
            False,
        ),
        ("INFO", "The outbox pass reaches the database again", False),
        ("ERROR", "The outbox pass failed; trying again next interval", True),
    ]
