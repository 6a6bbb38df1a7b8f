"""Use cases for what one party asks of the other: refunds, disputes and change requests, each
taking its command (`app.domain.commands`)."""

from __future__ import annotations

from tortoise.models import Model

from app.db import models
from app.domain.commands import (
    AcceptChangeRequest,
    DeclineChangeRequest,
    OpenDispute,
    ProposeMilestoneChanges,
    RequestRefund,
    ResolveDispute,
    RespondToRefundRequest,
    WithdrawChangeRequest,
    WithdrawDispute,
)
from app.domain.contract import Contract
from app.domain.errors import ErrorCode, refuse
from app.domain.permissions import Action, Actor
from app.services.runtime import Runtime
from app.services.unit import (
    ContractAction,
    Outcome,
    Touched,
    idempotency,
    noun_of,
    run_on_contract,
)


async def _contract_of(model: type[Model], pk: int, field: str) -> int:
    row = await model.filter(id=pk).only("id", "contract_id").first()
    if row is None:
        raise refuse(ErrorCode.NOT_FOUND, f"No such {noun_of(field)}", [field])
    contract_id: int = row.contract_id  # type: ignore[attr-defined]
    return contract_id


async def request_refund(runtime: Runtime, actor: Actor, command: RequestRefund) -> Outcome:
    def act(contract: Contract) -> Touched:
        request = contract.request_refund(actor, command)
        return Touched(milestone=contract.milestone(command.milestone_id), refund=request)

    contract_id = await _contract_of(models.Milestone, command.milestone_id, "milestone_id")
    return await run_on_contract(runtime, actor, contract_id, act, field="milestone_id")


async def answer_refund(runtime: Runtime, actor: Actor, command: RespondToRefundRequest) -> Outcome:
    def act(contract: Contract) -> Touched:
        request = contract.answer_refund(actor, command)
        return Touched(milestone=contract.milestone(request.milestone_id), refund=request)

    field = "refund_request_id"
    contract_id = await _contract_of(models.RefundRequest, command.refund_request_id, field)
    return await run_on_contract(runtime, actor, contract_id, act, field=field)


async def open_dispute(runtime: Runtime, actor: Actor, command: OpenDispute) -> Outcome:
    def act(contract: Contract) -> Touched:
        dispute = contract.open_dispute(actor, command)
        return Touched(milestone=contract.milestone(command.milestone_id), dispute=dispute)

    contract_id = await _contract_of(models.Milestone, command.milestone_id, "milestone_id")
    return await run_on_contract(runtime, actor, contract_id, act, field="milestone_id")


async def withdraw_dispute(runtime: Runtime, actor: Actor, command: WithdrawDispute) -> Outcome:
    def act(contract: Contract) -> Touched:
        dispute = contract.withdraw_dispute(actor, command.dispute_id)
        return Touched(milestone=contract.milestone(dispute.milestone_id), dispute=dispute)

    contract_id = await _contract_of(models.Dispute, command.dispute_id, "dispute_id")
    return await run_on_contract(runtime, actor, contract_id, act, field="dispute_id")


async def resolve_dispute(runtime: Runtime, actor: Actor, command: ResolveDispute) -> Outcome:
    def act(contract: Contract) -> Touched:
        dispute = contract.resolve_dispute(actor, command)
        return Touched(milestone=contract.milestone(dispute.milestone_id), dispute=dispute)

    contract_id = await _contract_of(models.Dispute, command.dispute_id, "dispute_id")
    return await run_on_contract(
        runtime,
        actor,
        contract_id,
        act,
        idempotency=idempotency(Action.RESOLVE_DISPUTE, command),
        field="dispute_id",
    )


async def propose_changes(
    runtime: Runtime, actor: Actor, command: ProposeMilestoneChanges
) -> Outcome:
    def act(contract: Contract) -> Touched:
        return Touched(change_request=contract.propose_changes(actor, command))

    return await run_on_contract(runtime, actor, command.contract_id, act)


async def accept_change_request(
    runtime: Runtime, actor: Actor, command: AcceptChangeRequest
) -> Outcome:
    def act(contract: Contract) -> Touched:
        return Touched(
            change_request=contract.accept_change_request(actor, command.change_request_id)
        )

    return await _on_change_request(runtime, actor, command.change_request_id, act)


async def decline_change_request(
    runtime: Runtime, actor: Actor, command: DeclineChangeRequest
) -> Outcome:
    def act(contract: Contract) -> Touched:
        return Touched(change_request=contract.decline_change_request(actor, command))

    return await _on_change_request(runtime, actor, command.change_request_id, act)


async def withdraw_change_request(
    runtime: Runtime, actor: Actor, command: WithdrawChangeRequest
) -> Outcome:
    def act(contract: Contract) -> Touched:
        return Touched(
            change_request=contract.withdraw_change_request(actor, command.change_request_id)
        )

    return await _on_change_request(runtime, actor, command.change_request_id, act)


async def _on_change_request(
    runtime: Runtime, actor: Actor, request_id: int, act: ContractAction
) -> Outcome:
    field = "change_request_id"
    contract_id = await _contract_of(models.ChangeRequest, request_id, field)
    return await run_on_contract(runtime, actor, contract_id, act, field=field)
