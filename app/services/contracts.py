"""Use cases of the contract lifecycle: one function each, one transaction each, each taking
its command (`app.domain.commands`)."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from app.db import models
from app.domain.commands import (
    AcceptContract,
    CompleteMilestone,
    CreateContract,
    DeclineContract,
    EndContract,
    FundMilestone,
    PayBonus,
    ReleaseMilestone,
    RequestRevision,
    SubmitMilestone,
)
from app.domain.contract import Contract
from app.domain.errors import DomainError, ErrorCode, refuse
from app.domain.permissions import Action, Actor
from app.services.repository import PENDING, WORK, Reads, insert_contract
from app.services.runtime import Runtime
from app.services.unit import (
    ContractAction,
    Idempotency,
    Outcome,
    Part,
    Saved,
    Touched,
    idempotency,
    run_on_contract,
    run_on_part,
)


async def create_contract(runtime: Runtime, actor: Actor, command: CreateContract) -> Outcome:
    saved = Saved(runtime)
    no_freelancer = refuse(ErrorCode.NOT_FOUND, "No such freelancer", ["freelancer_id"])
    async with in_transaction() as conn:
        try:
            contract = Contract.offer(
                command, client_id=actor.user_id, policy=runtime.policy, now=runtime.clock()
            )
        except DomainError:
            # an unknown freelancer is the answer, whatever else is wrong with the offer
            if not await models.User.exists(using_db=conn, id=command.freelancer_id):
                raise no_freelancer from None
            raise
        milestone_ids = await insert_contract(contract, conn, emails=runtime.emails)
        if milestone_ids is None:
            raise no_freelancer
        await saved.announce(contract, milestone_ids, conn)
    saved.committed()
    return Outcome(contract_id=contract.id)


async def accept_contract(runtime: Runtime, actor: Actor, command: AcceptContract) -> Outcome:
    def act(contract: Contract) -> Touched:
        contract.accept(actor)
        return Touched()

    return await run_on_contract(runtime, actor, command.contract_id, act)


async def decline_contract(runtime: Runtime, actor: Actor, command: DeclineContract) -> Outcome:
    def act(contract: Contract) -> Touched:
        contract.decline(actor, command)
        return Touched()

    return await run_on_contract(runtime, actor, command.contract_id, act)


async def end_contract(runtime: Runtime, actor: Actor, command: EndContract) -> Outcome:
    def act(contract: Contract) -> Touched:
        contract.end(actor, command)
        return Touched()

    return await run_on_contract(runtime, actor, command.contract_id, act)


async def pay_bonus(runtime: Runtime, actor: Actor, command: PayBonus) -> Outcome:
    def act(contract: Contract) -> Touched:
        contract.pay_bonus(actor, command)
        return Touched()

    return await run_on_contract(
        runtime,
        actor,
        command.contract_id,
        act,
        idempotency=idempotency(Action.PAY_BONUS, command),
        reads=WORK,
    )


async def fund_milestone(runtime: Runtime, actor: Actor, command: FundMilestone) -> Outcome:
    def act(contract: Contract) -> Touched:
        return Touched(milestone=contract.fund(actor, command.milestone_id))

    return await _on_milestone(
        runtime, actor, command.milestone_id, act, idempotency(Action.FUND, command)
    )


async def submit_milestone(runtime: Runtime, actor: Actor, command: SubmitMilestone) -> Outcome:
    def act(contract: Contract) -> Touched:
        return Touched(milestone=contract.submit(actor, command))

    return await _on_milestone(runtime, actor, command.milestone_id, act)


async def request_revision(runtime: Runtime, actor: Actor, command: RequestRevision) -> Outcome:
    def act(contract: Contract) -> Touched:
        return Touched(milestone=contract.request_revision(actor, command))

    return await _on_milestone(runtime, actor, command.milestone_id, act)


async def release_milestone(runtime: Runtime, actor: Actor, command: ReleaseMilestone) -> Outcome:
    def act(contract: Contract) -> Touched:
        return Touched(milestone=contract.release(actor, command))

    reads = PENDING if command.end_contract else WORK
    return await _on_milestone(
        runtime, actor, command.milestone_id, act, idempotency(Action.RELEASE, command), reads
    )


async def complete_milestone(runtime: Runtime, actor: Actor, command: CompleteMilestone) -> Outcome:
    def act(contract: Contract) -> Touched:
        return Touched(milestone=contract.complete(actor, command.milestone_id))

    return await _on_milestone(runtime, actor, command.milestone_id, act)


async def _on_milestone(
    runtime: Runtime,
    actor: Actor,
    milestone_id: int,
    act: ContractAction,
    idempotency: Idempotency | None = None,
    reads: Reads = WORK,
) -> Outcome:
    """A use case on a milestone; one that may end the contract says so (`reads`)."""
    milestone = Part.milestone(milestone_id, current_only=True, reads=reads)
    return await run_on_part(runtime, actor, milestone, act, idempotency=idempotency)
