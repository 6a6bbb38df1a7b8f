"""Write caps on a contract's change requests and a milestone's refund requests (issue 7).

Each list is shown whole (`Contract.changeRequests`, `Milestone.refundRequests`), so the
query node count needs its largest size, and a write past it is refused with INVALID_STATE
and changes nothing. The cap is checked on the aggregate as loaded: no extra statement.
"""

from __future__ import annotations

from collections.abc import Awaitable

import pytest

from app.db import models
from app.domain.errors import DomainError, ErrorCode
from app.domain.requests import MAX_CHANGE_REQUESTS, MAX_REFUND_REQUESTS
from tests.services.flows import Deal, add, events_of
from tests.services.test_query_counts import counting_statements

pytestmark = pytest.mark.usefixtures("books_stay_right")

M1, M2 = 0, 1


async def refused_with(step: Awaitable[object]) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await step
    return caught.value


async def test_a_contract_takes_at_most_MAX_CHANGE_REQUESTS_change_requests(deal: Deal) -> None:
    # given: MAX_CHANGE_REQUESTS proposals, each withdrawn or declined
    for n in range(MAX_CHANGE_REQUESTS):
        request_id = await deal.propose(add(f"Extra {n}"))
        if n % 2:
            await deal.withdraw_changes(request_id)
        else:
            await deal.decline_changes(request_id)
    before = await events_of(deal.id)

    # when: either party proposes once more
    by_client = await refused_with(deal.propose(add("One too many")))
    by_freelancer = await refused_with(deal.propose(add("One too many"), by=deal.freelancer))

    # then: INVALID_STATE saying the limit, and nothing stored
    for error in (by_client, by_freelancer):
        ((code, message, path),) = [(p.code, p.message, p.field) for p in error.problems]
        assert code is ErrorCode.INVALID_STATE
        assert f"at most {MAX_CHANGE_REQUESTS} change requests" in message
        assert path is None
    assert await models.ChangeRequest.filter(contract_id=deal.id).count() == MAX_CHANGE_REQUESTS
    assert await events_of(deal.id) == before


async def test_a_milestone_takes_at_most_MAX_REFUND_REQUESTS_refund_requests(deal: Deal) -> None:
    # given: MAX_REFUND_REQUESTS refund requests on the first milestone, each declined
    for _ in range(MAX_REFUND_REQUESTS):
        refund_id = await deal.request_refund(M1, amount="10.00")
        await deal.answer_refund(refund_id, approve=False)
    before = await events_of(deal.id)

    # when: the client asks once more
    error = await refused_with(deal.request_refund(M1, amount="10.00"))

    # then: INVALID_STATE on the milestone, saying the limit, and nothing stored
    ((code, message, path),) = [(p.code, p.message, p.field) for p in error.problems]
    assert code is ErrorCode.INVALID_STATE
    assert f"at most {MAX_REFUND_REQUESTS} refund requests" in message
    assert path == ("milestone_id",)
    milestone = await deal.milestone(M1)
    assert await models.RefundRequest.filter(milestone_id=milestone.id).count() == (
        MAX_REFUND_REQUESTS
    )
    assert milestone.status == "FUNDED" and milestone.refunded_amount == 0
    assert await events_of(deal.id) == before


async def test_the_refund_cap_is_per_milestone(deal: Deal) -> None:
    # given: the first milestone at its cap, then released, and the second one funded
    for _ in range(MAX_REFUND_REQUESTS):
        await deal.answer_refund(await deal.request_refund(M1), approve=False)
    await deal.submit(M1)
    await deal.release(M1)
    await deal.fund(M2)

    # when: the client asks for the second milestone's escrow back
    refund_id = await deal.request_refund(M2)

    # then: it is asked
    assert (await models.RefundRequest.get(id=refund_id)).status == "PENDING"


async def test_the_caps_cost_no_statement(deal: Deal) -> None:
    # given: a first proposal and a first refund request, counted
    with counting_statements() as first_proposal:
        request_id = await deal.propose(add("First"))
    await deal.withdraw_changes(request_id)
    with counting_statements() as first_refund:
        refund_id = await deal.request_refund(M1)
    await deal.answer_refund(refund_id, approve=False)
    for n in range(MAX_CHANGE_REQUESTS - 2):
        await deal.withdraw_changes(await deal.propose(add(f"Extra {n}")))
    for _ in range(MAX_REFUND_REQUESTS - 2):
        await deal.answer_refund(await deal.request_refund(M1), approve=False)

    # when: the last proposal and the last refund request the caps allow
    with counting_statements() as last_proposal:
        await deal.propose(add("Last"))
    with counting_statements() as last_refund:
        await deal.request_refund(M1)

    # then: they send as many statements as the first ones
    assert len(last_proposal) == len(first_proposal)
    assert len(last_refund) == len(first_refund)
