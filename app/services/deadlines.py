"""The deadline scheduler: automatic releases and refund approvals whose time has come.

Each due contract is handled in its own unit of work, which locks the contract row and applies
only deadlines still due under that lock, so several schedulers on one PostgreSQL database fire
each deadline exactly once. A deadline that passed while no scheduler ran fires at the next run.
A contract whose unit of work fails is logged in one line and left for the next run; it holds
back neither the other contracts nor the purge of old idempotency keys. A database that cannot
be reached ends the pass; the loop that runs it (app/services/workers.py) says so in one line.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from app.db import models
from app.domain.contract import Contract
from app.domain.milestones import MilestoneStatus
from app.domain.permissions import Actor
from app.domain.requests import RefundStatus
from app.services.outage import is_unavailable
from app.services.runtime import Runtime
from app.services.unit import Touched, run_on_contract

logger = logging.getLogger("app.deadlines")

# Deadlines run with an admin's visibility; the events they cause have no actor.
SCHEDULER = Actor(user_id=0, is_admin=True)
IDEMPOTENCY_KEPT = timedelta(hours=48)
BATCH = 500


async def due_contracts(runtime: Runtime) -> list[int]:
    now = runtime.clock()
    releases = (
        await models.Milestone.filter(
            status=MilestoneStatus.SUBMITTED, auto_release_at__lte=now, deleted=False
        )
        .limit(BATCH)
        .only("id", "contract_id")
    )
    refunds = (
        await models.RefundRequest.filter(status=RefundStatus.PENDING, respond_by__lte=now)
        .limit(BATCH)
        .only("id", "contract_id")
    )
    return sorted({m.contract_id for m in releases} | {r.contract_id for r in refunds})


async def run_due(runtime: Runtime) -> int:
    """Apply every deadline that has passed; returns on how many contracts it was applied."""

    def nothing_more(contract: Contract) -> Touched:
        return Touched()

    applied = 0
    for contract_id in await due_contracts(runtime):
        try:
            await run_on_contract(runtime, SCHEDULER, contract_id, nothing_more)
        except Exception as error:  # one contract's failure, whatever it is, is its own
            if is_unavailable(error):
                raise  # the database's, not the contract's: the next run tries them all again
            logger.error(
                "Deadlines on contract %d failed (%s: %.200s); retried next run",
                contract_id,
                type(error).__name__,
                str(error).replace("\n", " "),
            )
            continue
        applied += 1
    await models.IdempotencyKey.filter(created_at__lt=runtime.clock() - IDEMPOTENCY_KEPT).delete()
    return applied
