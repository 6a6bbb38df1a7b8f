"""An action loads only the requests it may read (`app.services.repository.Reads`), and what it
does not load it leaves as it was: work on a milestone does not read the pending change
request, and leaves it pending; a release that ends the contract reads it, and withdraws it."""

from __future__ import annotations

import pytest

from app.db import models
from app.services.runtime import Runtime
from tests.services.conftest import People
from tests.services.flows import Deal, add, fixed

pytestmark = pytest.mark.usefixtures("books_stay_right")


@pytest.fixture
async def deal(runtime: Runtime, people: People) -> Deal:
    """An active contract of one funded milestone, with a change request pending."""
    deal = await Deal.active(
        runtime, people.client.actor, people.freelancer.actor, fixed("100.00", "A")
    )
    await deal.fund()
    return deal


async def _status(request_id: int) -> str:
    return (await models.ChangeRequest.get(id=request_id)).status


async def test_work_on_a_milestone_leaves_the_pending_change_request_pending(deal: Deal) -> None:
    # given
    request_id = await deal.propose(add("D"), by=deal.freelancer)
    # when the milestone is submitted, sent back, submitted again and released
    await deal.submit()
    await deal.revise()
    await deal.submit()
    await deal.release()
    # then the request is still pending, and can be accepted
    assert await _status(request_id) == "PENDING"
    await deal.accept_changes(request_id, by=deal.client)
    assert await _status(request_id) == "ACCEPTED"


async def test_a_release_that_ends_the_contract_withdraws_the_pending_change_request(
    deal: Deal,
) -> None:
    # given
    request_id = await deal.propose(add("D"), by=deal.freelancer)
    await deal.submit()
    # when
    await deal.release(end=True)
    # then
    assert await _status(request_id) == "WITHDRAWN"
    assert (await models.Contract.get(id=deal.id)).status == "ENDED"
