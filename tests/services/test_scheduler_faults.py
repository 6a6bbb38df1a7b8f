"""The scheduler's pass when one contract's unit of work fails: the failure is logged in one
line and the pass goes on, with the other contracts' deadlines and the idempotency-key purge."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from app.db import models
from app.domain.permissions import Action
from app.services import deadlines, unit
from app.services.runtime import Runtime
from tests.services.conftest import People
from tests.services.flows import Deal
from tests.support import FrozenClock


async def test_one_failing_contract_holds_back_neither_the_others_nor_the_purge(
    runtime: Runtime,
    people: People,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given three contracts with work submitted, and an idempotency key past its keeping time
    client, freelancer = people.client.actor, people.freelancer.actor
    deals = [await Deal.active(runtime, client, freelancer) for _ in range(3)]
    for deal in deals:
        await deal.fund(0)
        await deal.submit(0)
    await models.IdempotencyKey.create(
        user_id=client.user_id,
        mutation=Action.FUND.value,
        key="old",
        request_hash="0" * 64,
        outcome={},
        created_at=clock.now,
    )
    clock.advance(deadlines.IDEMPOTENCY_KEPT + timedelta(days=14))
    # and the first contract's unit of work raises
    bad = deals[0].id
    real = unit.run_on_contract  # what app/services/deadlines.py calls

    async def failing_for_one(runtime: Runtime, actor: Any, contract_id: int, act: Any) -> Any:
        if contract_id == bad:
            raise RuntimeError("a stored row the domain cannot load")
        return await real(runtime, actor, contract_id, act)

    monkeypatch.setattr(deadlines, "run_on_contract", failing_for_one)

    # when the scheduler runs
    with caplog.at_level(logging.INFO, logger="app.deadlines"):
        applied = await deadlines.run_due(runtime)

    # then the two others are released, the old key is purged, and the failure is one line
    assert applied == 2
    assert [(await d.milestone(0)).status for d in deals] == ["SUBMITTED", "RELEASED", "RELEASED"]
    assert await models.IdempotencyKey.all().count() == 0
    failures = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(failures) == 1
    assert str(bad) in failures[0].getMessage()
    assert "\n" not in failures[0].getMessage()
    assert failures[0].exc_info is None
