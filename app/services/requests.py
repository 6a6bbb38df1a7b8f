"""Use cases for what one party asks of the other: refunds, disputes and change requests."""

from __future__ import annotations

from collections.abc import Sequence

from tortoise.models import Model

from app.db import models
from app.domain.changes import ChangeDraft
from app.domain.contract import Contract
from app.domain.errors import ErrorCode, refuse
from app.domain.permissions import Action, Actor
from app.services.runtime import Runtime
from app.services.unit import Idempotency, Outcome, Touched, run_on_contract


async def _contract_of(model: type[Model], pk: int, field: str) -> int:
    row = await model.filter(id=pk).only("id", "contract_id").first()
    if row is None:
        raise refuse(ErrorCode.NOT_FOUND, f"No such {field.removesuffix('Id')}", [field])
    contract_id: int = row.contract_id  # type: ignore[attr-defined]
    return contract_id


async def request_refund(
    runtime: Runtime, actor: Actor, milestone_id: int, *, amount: str | None, reason: str | None
) -> Outcome:
    def act(contract: Contract) -> Touched:
        request = contract.request_refund(actor, milestone_id, amount, reason)
        return Touched(milestone=contract.milestone(milestone_id), refund=request)

    contract_id = await _contract_of(models.Milestone, milestone_id, "milestoneId")
    return await run_on_contract(runtime, actor, contract_id, act, field="milestoneId")


async def answer_refund(
    runtime: Runtime, actor: Actor, refund_id: int, *, approve: bool, message: str | None
) -> Outcome:
    def act(contract: Contract) -> Touched:
        request = contract.answer_refund(actor, refund_id, approve=approve, message=message)
        return Touched(milestone=contract.milestone(request.milestone_id), refund=request)

    contract_id = await _contract_of(models.RefundRequest, refund_id, "refundRequestId")
    return await run_on_contract(runtime, actor, contract_id, act, field="refundRequestId")


async def open_dispute(
    runtime: Runtime, actor: Actor, milestone_id: int, reason: str | None
) -> Outcome:
    def act(contract: Contract) -> Touched:
        dispute = contract.open_dispute(actor, milestone_id, reason)
        return Touched(milestone=contract.milestone(milestone_id), dispute=dispute)

    contract_id = await _contract_of(models.Milestone, milestone_id, "milestoneId")
    return await run_on_contract(runtime, actor, contract_id, act, field="milestoneId")


async def withdraw_dispute(runtime: Runtime, actor: Actor, dispute_id: int) -> Outcome:
    def act(contract: Contract) -> Touched:
        dispute = contract.withdraw_dispute(actor, dispute_id)
        return Touched(milestone=contract.milestone(dispute.milestone_id), dispute=dispute)

    contract_id = await _contract_of(models.Dispute, dispute_id, "disputeId")
    return await run_on_contract(runtime, actor, contract_id, act, field="disputeId")


async def resolve_dispute(
    runtime: Runtime,
    actor: Actor,
    dispute_id: int,
    *,
    freelancer_amount: str,
    client_amount: str,
    note: str | None,
    idempotency_key: str | None,
) -> Outcome:
    def act(contract: Contract) -> Touched:
        dispute = contract.resolve_dispute(
            actor,
            dispute_id,
            freelancer_amount=freelancer_amount,
            client_amount=client_amount,
            note=note,
        )
        return Touched(milestone=contract.milestone(dispute.milestone_id), dispute=dispute)

    idempotency = (
        Idempotency(
            mutation="resolveDispute",
            key=idempotency_key,
            action=Action.RESOLVE_DISPUTE,
            request={
                "disputeId": dispute_id,
                "freelancerAmount": freelancer_amount,
                "clientAmount": client_amount,
                "note": note,
            },
        )
        if idempotency_key is not None
        else None
    )
    contract_id = await _contract_of(models.Dispute, dispute_id, "disputeId")
    return await run_on_contract(
        runtime, actor, contract_id, act, idempotency=idempotency, field="disputeId"
    )


async def propose_changes(
    runtime: Runtime,
    actor: Actor,
    contract_id: int,
    *,
    changes: Sequence[ChangeDraft],
    message: str | None,
) -> Outcome:
    def act(contract: Contract) -> Touched:
        return Touched(change_request=contract.propose_changes(actor, changes, message))

    return await run_on_contract(runtime, actor, contract_id, act)


async def accept_change_request(runtime: Runtime, actor: Actor, request_id: int) -> Outcome:
    def act(contract: Contract) -> Touched:
        return Touched(change_request=contract.accept_change_request(actor, request_id))

    contract_id = await _contract_of(models.ChangeRequest, request_id, "changeRequestId")
    return await run_on_contract(runtime, actor, contract_id, act, field="changeRequestId")


async def decline_change_request(
    runtime: Runtime, actor: Actor, request_id: int, reason: str | None
) -> Outcome:
    def act(contract: Contract) -> Touched:
        return Touched(change_request=contract.decline_change_request(actor, request_id, reason))

    contract_id = await _contract_of(models.ChangeRequest, request_id, "changeRequestId")
    return await run_on_contract(runtime, actor, contract_id, act, field="changeRequestId")


async def withdraw_change_request(runtime: Runtime, actor: Actor, request_id: int) -> Outcome:
    def act(contract: Contract) -> Touched:
        return Touched(change_request=contract.withdraw_change_request(actor, request_id))

    contract_id = await _contract_of(models.ChangeRequest, request_id, "changeRequestId")
    return await run_on_contract(runtime, actor, contract_id, act, field="changeRequestId")
