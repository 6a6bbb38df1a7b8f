"""Use cases for what one party asks of the other: refunds, disputes and change requests, each
taking its command (`app.domain.commands`)."""

from __future__ import annotations

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
from app.domain.permissions import Action, Actor
from app.services.repository import Reads
from app.services.runtime import Runtime
from app.services.unit import (
    ContractAction,
    Outcome,
    Part,
    Touched,
    idempotency,
    run_on_contract,
    run_on_part,
)


async def request_refund(runtime: Runtime, actor: Actor, command: RequestRefund) -> Outcome:
    def act(contract: Contract) -> Touched:
        request = contract.request_refund(actor, command)
        return Touched(milestone=contract.milestone(command.milestone_id), refund=request)

    reads = Reads(refunds_of_milestone=command.milestone_id)  # their cap
    milestone = Part.milestone(command.milestone_id, reads=reads)
    return await run_on_part(runtime, actor, milestone, act)


async def answer_refund(runtime: Runtime, actor: Actor, command: RespondToRefundRequest) -> Outcome:
    def act(contract: Contract) -> Touched:
        request = contract.answer_refund(actor, command)
        return Touched(milestone=contract.milestone(request.milestone_id), refund=request)

    refund = Part.refund_request(command.refund_request_id)
    return await run_on_part(runtime, actor, refund, act)


async def open_dispute(runtime: Runtime, actor: Actor, command: OpenDispute) -> Outcome:
    def act(contract: Contract) -> Touched:
        dispute = contract.open_dispute(actor, command)
        return Touched(milestone=contract.milestone(command.milestone_id), dispute=dispute)

    milestone = Part.milestone(command.milestone_id)
    return await run_on_part(runtime, actor, milestone, act)


async def withdraw_dispute(runtime: Runtime, actor: Actor, command: WithdrawDispute) -> Outcome:
    def act(contract: Contract) -> Touched:
        dispute = contract.withdraw_dispute(actor, command.dispute_id)
        return Touched(milestone=contract.milestone(dispute.milestone_id), dispute=dispute)

    dispute = Part.dispute(command.dispute_id)
    return await run_on_part(runtime, actor, dispute, act)


async def resolve_dispute(runtime: Runtime, actor: Actor, command: ResolveDispute) -> Outcome:
    def act(contract: Contract) -> Touched:
        dispute = contract.resolve_dispute(actor, command)
        return Touched(milestone=contract.milestone(dispute.milestone_id), dispute=dispute)

    dispute = Part.dispute(command.dispute_id)
    return await run_on_part(
        runtime, actor, dispute, act, idempotency=idempotency(Action.RESOLVE_DISPUTE, command)
    )


async def propose_changes(
    runtime: Runtime, actor: Actor, command: ProposeMilestoneChanges
) -> Outcome:
    def act(contract: Contract) -> Touched:
        return Touched(change_request=contract.propose_changes(actor, command))

    every = Reads(every_change_request=True)  # their cap
    return await run_on_contract(runtime, actor, command.contract_id, act, reads=every)


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
    request = Part.change_request(request_id)
    return await run_on_part(runtime, actor, request, act)
