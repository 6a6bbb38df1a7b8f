"""Running a mutation's use case: the caller with WRITE scope, and its outcome, refusals
included (a refusal touched nothing, so its outcome names no object). The request's loaders are
emptied once the use case has run: a request may hold several mutations, run one after the
other, and each payload must show the state after its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from app.domain.contract import Actor
from app.domain.errors import DomainError
from app.graphql.context import Info
from app.graphql.errors import UserError, user_errors
from app.services.unit import Outcome

Run = Callable[[Actor], Awaitable[Outcome]]


async def run_mutation(info: Info, run: Run) -> tuple[Actor, Outcome]:
    actor = await info.context.actor(write=True)
    try:
        outcome = await run(actor)
    except DomainError as error:
        outcome = Outcome(problems=error.problems)
    info.context.loaders.forget()
    return actor, outcome


def outcome_errors(outcome: Outcome) -> list[UserError]:
    return user_errors(DomainError(outcome.problems)) if outcome.problems else []
