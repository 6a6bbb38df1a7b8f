"""Use cases of the contract lifecycle: one function each, one transaction each."""

from __future__ import annotations

from collections.abc import Sequence

from tortoise.transactions import in_transaction

from app.db import models
from app.domain.contract import Contract
from app.domain.errors import ErrorCode, refuse
from app.domain.milestones import MilestoneDraft
from app.domain.permissions import Action, Actor
from app.services.repository import insert_contract
from app.services.runtime import Runtime
from app.services.unit import (
    ContractAction,
    Idempotency,
    Outcome,
    Saved,
    Touched,
    contract_id_of_milestone,
    run_on_contract,
)


async def create_contract(
    runtime: Runtime,
    actor: Actor,
    *,
    freelancer_id: int | None,
    title: str | None,
    description: str | None,
    currency: str | None,
    milestones: Sequence[MilestoneDraft],
) -> Outcome:
    if freelancer_id is None or not await models.User.exists(id=freelancer_id):
        raise refuse(ErrorCode.NOT_FOUND, "No such freelancer", ["freelancerId"])
    contract = Contract.offer(
        client_id=actor.user_id,
        freelancer_id=freelancer_id,
        title=title,
        description=description,
        currency=currency,
        milestones=milestones,
        policy=runtime.policy,
        now=runtime.clock(),
    )
    saved = Saved(runtime)
    async with in_transaction() as conn:
        await saved.announce(contract, await insert_contract(contract, conn), conn)
    saved.committed()
    return Outcome(contract_id=contract.id)


async def accept_contract(runtime: Runtime, actor: Actor, contract_id: int) -> Outcome:
    def act(contract: Contract) -> Touched:
        contract.accept(actor)
        return Touched()

    return await run_on_contract(runtime, actor, contract_id, act)


async def decline_contract(
    runtime: Runtime, actor: Actor, contract_id: int, reason: str | None
) -> Outcome:
    def act(contract: Contract) -> Touched:
        contract.decline(actor, reason)
        return Touched()

    return await run_on_contract(runtime, actor, contract_id, act)


async def end_contract(
    runtime: Runtime, actor: Actor, contract_id: int, reason: str | None
) -> Outcome:
    def act(contract: Contract) -> Touched:
        contract.end(actor, reason)
        return Touched()

    return await run_on_contract(runtime, actor, contract_id, act)


async def pay_bonus(
    runtime: Runtime,
    actor: Actor,
    contract_id: int,
    *,
    amount: str | None,
    note: str | None,
    idempotency_key: str | None,
) -> Outcome:
    def act(contract: Contract) -> Touched:
        contract.pay_bonus(actor, amount, note)
        return Touched()

    idempotency = _idempotency(
        "payBonus",
        idempotency_key,
        Action.PAY_BONUS,
        {"contractId": contract_id, "amount": amount, "note": note},
    )
    return await run_on_contract(runtime, actor, contract_id, act, idempotency=idempotency)


async def fund_milestone(
    runtime: Runtime, actor: Actor, milestone_id: int, idempotency_key: str | None
) -> Outcome:
    def act(contract: Contract) -> Touched:
        return Touched(milestone=contract.fund(actor, milestone_id))

    idempotency = _idempotency(
        "fundMilestone", idempotency_key, Action.FUND, {"milestoneId": milestone_id}
    )
    return await _on_milestone(runtime, actor, milestone_id, act, idempotency)


async def submit_milestone(
    runtime: Runtime,
    actor: Actor,
    milestone_id: int,
    *,
    message: str | None,
    attachments: Sequence[str],
    requested_amount: str | None,
    units: int | None,
) -> Outcome:
    def act(contract: Contract) -> Touched:
        return Touched(
            milestone=contract.submit(
                actor,
                milestone_id,
                message=message,
                attachments=attachments,
                requested_amount=requested_amount,
                units=units,
            )
        )

    return await _on_milestone(runtime, actor, milestone_id, act)


async def request_revision(
    runtime: Runtime, actor: Actor, milestone_id: int, message: str | None
) -> Outcome:
    def act(contract: Contract) -> Touched:
        return Touched(milestone=contract.request_revision(actor, milestone_id, message))

    return await _on_milestone(runtime, actor, milestone_id, act)


async def release_milestone(
    runtime: Runtime,
    actor: Actor,
    milestone_id: int,
    *,
    amount: str | None,
    end_contract: bool,
    idempotency_key: str | None,
) -> Outcome:
    def act(contract: Contract) -> Touched:
        return Touched(
            milestone=contract.release(
                actor, milestone_id, amount=amount, end_contract=end_contract
            )
        )

    idempotency = _idempotency(
        "releaseMilestone",
        idempotency_key,
        Action.RELEASE,
        {"milestoneId": milestone_id, "amount": amount, "endContract": end_contract},
    )
    return await _on_milestone(runtime, actor, milestone_id, act, idempotency)


async def _on_milestone(
    runtime: Runtime,
    actor: Actor,
    milestone_id: int,
    act: ContractAction,
    idempotency: Idempotency | None = None,
) -> Outcome:
    contract_id = await contract_id_of_milestone(milestone_id)
    if contract_id is None:
        raise refuse(ErrorCode.NOT_FOUND, "No such milestone", ["milestoneId"])
    return await run_on_contract(
        runtime, actor, contract_id, act, idempotency=idempotency, field="milestoneId"
    )


def _idempotency(
    mutation: str, key: str | None, action: Action, request: dict[str, object]
) -> Idempotency | None:
    if key is None:
        return None
    return Idempotency(mutation=mutation, key=key, request=request, action=action)


async def complete_milestone(runtime: Runtime, actor: Actor, milestone_id: int) -> Outcome:
    def act(contract: Contract) -> Touched:
        return Touched(milestone=contract.complete(actor, milestone_id))

    return await _on_milestone(runtime, actor, milestone_id, act)
