"""The background work of a process: deadlines and reminders every `JOBS_INTERVAL`, the
outbox (e-mails, webhook attempts) every `OUTBOX_POLL`.

`serve` runs them for its lifetime (on SQLite it is the only worker there is) and `run-jobs`
runs the same ones apart, or once with `--once`. Several processes may run them on one
PostgreSQL database: deadlines lock their contract, reminders insert a unique key, and outbox
rows are claimed with `FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from app.domain.reminders import ReminderOffsets
from app.services.deadlines import run_due
from app.services.outage import is_unavailable
from app.services.outbox import GlobalId, MailConfig, Outbox, OutboxConfig, Tally
from app.services.reminder_job import send_due_reminders
from app.services.runtime import Runtime
from app.settings import Settings

logger = logging.getLogger("app.jobs")

OUTBOX_POLL = timedelta(seconds=1)
EMAIL_OFF = "E-mail is off (SMTP_URL is not set)."


@dataclass(frozen=True)
class Jobs:
    runtime: Runtime
    outbox: OutboxConfig
    offsets: ReminderOffsets
    interval: timedelta

    @classmethod
    def of(cls, settings: Settings, runtime: Runtime, global_id: GlobalId) -> Jobs:
        mail = None
        if settings.smtp is not None:
            assert settings.SMTP_FROM is not None, "the settings require it with SMTP_URL"
            mail = MailConfig(settings.smtp, settings.SMTP_FROM)
        config = OutboxConfig(mail, settings.retry_schedule, global_id)
        return cls(runtime, config, settings.reminder_offsets, settings.JOBS_INTERVAL)


@dataclass(frozen=True)
class Done:
    deadlines: int  # contracts
    reminders: int
    sent: int  # e-mails and webhook attempts

    def __str__(self) -> str:
        return (
            f"Deadlines applied on {self.deadlines} contract(s). Reminders sent: "
            f"{self.reminders}. E-mails and webhook attempts sent: {self.sent}."
        )


async def deadlines_and_reminders(jobs: Jobs) -> tuple[int, int]:
    """Deadlines first: one that fires now is met, and has no reminder."""
    applied = await run_due(jobs.runtime)
    return applied, await send_due_reminders(jobs.runtime, jobs.offsets)


async def run_once(jobs: Jobs, tally: Tally | None = None) -> Done:
    """Every job once, the outbox until nothing due is left."""
    applied, reminded = await deadlines_and_reminders(jobs)
    outbox = Outbox(jobs.runtime, jobs.outbox, tally)
    try:
        sent = await outbox.run_once()
    finally:
        await outbox.close()
    return Done(applied, reminded, sent)


async def repeat(name: str, interval: timedelta, job: Callable[[], Awaitable[object]]) -> None:
    """Run `job` now and then every `interval`, until cancelled; a failure is logged and the
    next run tries again. An outage is one line when it starts and one when it ends, not a
    traceback per run (the outbox runs every second)."""
    down = False
    while True:
        try:
            await job()
            if down:
                logger.info("The %s reaches the database again", name)
            down = False
        except Exception as error:
            if not is_unavailable(error):
                logger.exception("The %s failed; trying again next interval", name)
            elif not down:
                down = True
                logger.warning(
                    "The %s found the database unavailable (%s); trying again every %s",
                    name,
                    type(error).__name__,
                    interval,
                )
        await asyncio.sleep(interval.total_seconds())


async def run_forever(jobs: Jobs, tally: Tally | None = None) -> None:
    """Every job, each on its interval, until cancelled."""

    async def scheduled() -> None:
        applied, reminded = await deadlines_and_reminders(jobs)
        if applied or reminded:
            logger.info("Deadlines applied on %d contract(s); %d reminder(s)", applied, reminded)

    outbox = Outbox(jobs.runtime, jobs.outbox, tally)
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(repeat("deadline run", jobs.interval, scheduled))
            group.create_task(repeat("outbox pass", OUTBOX_POLL, outbox.start_due))
    finally:
        await outbox.close()
