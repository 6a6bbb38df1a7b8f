"""The one way a mutation runs, in the spirit of saleor's `BaseMutation`: a mutation is a row
(`MutationRow`: its name, input type, command type, payload shape, the global ids in its input,
and its service call), and `mutation_type` turns the rows into the `Mutation` type.

Strawberry reads a field's argument and result types from real classes and a resolver's
signature, so the `NamePayload` class of each row (a subclass of its payload shape) and its
resolver are made here rather than written out once per mutation. Every row runs the same way:

1. credentials: a token with the WRITE scope, except for the rows with `login_email` (register
   and login), which need none and count against the login rate limit instead;
2. the input is read into the row's command (`app.graphql.commands`: global ids, amounts in
   cents); an input id that names nothing makes the mutation `NOT_FOUND` on that field;
3. the service runs with the command; a `DomainError` becomes the payload's `userErrors`;
4. the request's loaders are emptied (a request may hold several mutations, run one after the
   other, and each payload shows the state after its own), and the payload is read fresh: by the
   compiled read path (`app.graphql.compiled.payloads`) when the planner covers its selection,
   on the one connection the unit of work ran on, else by the payload shape from the objects
   the service touched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, Generic, Protocol, Self, TypeVar

import strawberry
from strawberry.tools import create_type
from strawberry.types.base import has_object_definition
from strawberry.types.field import StrawberryField

from app.domain.commands import Command
from app.domain.errors import DomainError
from app.domain.permissions import Actor
from app.graphql.commands import GlobalId, id_fields, to_command, unmatched_fields
from app.graphql.compiled.payloads import outcome_errors, payload_plan
from app.graphql.compiled.written import Written
from app.graphql.context import Info
from app.graphql.errors import UserError, unauthenticated, user_errors
from app.services import read_rows
from app.services.accounts import Principal
from app.services.runtime import Runtime
from app.services.unit import Outcome

I = TypeVar("I")  # noqa: E741  the input type
C = TypeVar("C", bound=Command)  # the command it is read into
R = TypeVar("R")  # what the service returns
R_contra = TypeVar("R_contra", contravariant=True)


@dataclass(frozen=True)
class Caller:
    """What a row's service call and its payload shape are given: the request and the
    caller's credentials (None for register and login)."""

    info: Info
    credentials: Principal | None

    @property
    def runtime(self) -> Runtime:
        return self.info.context.runtime

    @property
    def principal(self) -> Principal:
        if self.credentials is None:  # only the rows that ask for no token have none
            raise unauthenticated()
        return self.credentials

    @property
    def actor(self) -> Actor:
        return self.principal.actor

    @property
    def session_ttl(self) -> timedelta:
        return self.info.context.session_ttl


class PayloadShape(Protocol[R_contra]):
    """What every payload of one kind holds, and how it is read from what its service returned.
    Refused, a payload holds only its `userErrors`."""

    def __init__(self, *, user_errors: list[UserError]) -> None: ...

    @classmethod
    async def read(cls, caller: Caller, result: R_contra) -> Self: ...


def touched(what: str) -> Any:
    """A payload's object field, described for the schema."""
    return strawberry.field(
        default=None,
        description=f"The {what}, as it is after the mutation; null when it was refused.",
    )


def user_errors_field() -> Any:
    """Every payload's `userErrors` field, described for the schema."""
    return strawberry.field(
        default_factory=list,
        description="Why the mutation was refused (all input errors at once; else one), each "
        "with its code and field; empty when it was done. Refused, it changed nothing (but a "
        "passed deadline it found, which applies anyway).",
    )


@dataclass(frozen=True)
class MutationRow(Generic[I, C, R]):
    """One mutation. Its GraphQL name is `name`, its input type `NameInput` (the class given
    as `input`), read into the command `Name` (`command`), and its payload type
    `NamePayload`, made from the shape `payload`. `ids` names the node type of every global
    id field of the input, nested ones by a dotted path ("changes.milestone_id")."""

    name: str
    description: str | None
    input: type[I]
    command: type[C]
    payload: type[PayloadShape[R]]
    call: Callable[[Caller, C], Awaitable[R]]
    ids: Mapping[str, GlobalId] = field(default_factory=dict)
    login_email: Callable[[I], str] | None = None
    """register and login: no token needed; each attempt counts against the login rate limit
    of the client's address and of this e-mail address."""

    def __post_init__(self) -> None:
        """A misdeclared row stops the schema from being built at all."""
        if self.input.__name__ != f"{self.type_prefix}Input":
            raise TypeError(f"{self.name}: its input type is {self.type_prefix}Input")
        if self.command.__name__ != self.type_prefix:
            raise TypeError(f"{self.name}: its command is {self.type_prefix}")
        if not has_object_definition(self.input):
            raise TypeError(f"{self.name}: {self.input.__name__} is not a strawberry input")
        missing = unmatched_fields(self.input, self.command)
        if missing:
            raise TypeError(f"{self.name}: {self.type_prefix} lacks {missing}")
        expected = id_fields(self.input)
        if set(self.ids) != expected:
            raise TypeError(f"{self.name}: ids {sorted(self.ids)} are not {sorted(expected)}")

    @property
    def type_prefix(self) -> str:
        return self.name[0].upper() + self.name[1:]

    async def run(
        self, payload: type[PayloadShape[R]], info: Info, input: I
    ) -> PayloadShape[R] | Written:
        credentials = None
        if self.login_email is None:
            credentials = await info.context.require(write=True)
        else:
            await info.context.count_login(self.login_email(input))
        caller = Caller(info, credentials)
        written = payload_plan(info)  # None: the payload shape builds it
        # A planned payload reads on the connection its unit of work ran on, one for the whole
        # mutation (the payload shapes' loaders read at once, each on a connection of its own).
        async with read_rows.one_connection() if written else nullcontext():
            try:
                result = await self.call(caller, to_command(input, self.command, self.ids))
            except DomainError as error:
                refusal = user_errors(error)
                refused = await written.write(info, credentials, None, refusal) if written else None
                return refused or payload(user_errors=refusal)
            finally:
                info.context.loaders.forget()
            done = None
            if written is not None and isinstance(result, Outcome):
                done = await written.write(info, credentials, result, outcome_errors(result))
        return done or await payload.read(caller, result)

    def strawberry_field(self) -> StrawberryField:
        payload: Any = strawberry.type(
            type(
                f"{self.type_prefix}Payload",
                (self.payload,),
                {"__module__": self.payload.__module__},
            ),
            description=f"What `{self.name}` returns: the objects it touched, read after it, "
            "or, when it was refused and changed nothing, only its `userErrors`.",
        )

        async def resolve(info: Info, input: Any) -> Any:
            return await self.run(payload, info, input)

        resolve.__name__ = self.name
        described = strawberry.argument(
            description=f"What `{self.name}` acts on and how: see `{self.type_prefix}Input`."
        )
        resolve.__annotations__ = {
            "info": Info,
            "input": Annotated[self.input, described],
            "return": payload,
        }
        mutation: StrawberryField = strawberry.mutation(
            resolver=resolve, name=self.name, description=self.description
        )
        return mutation


def mutation(
    name: str,
    description: str | None,
    input: type[I],
    command: type[C],
    payload: type[PayloadShape[R]],
    call: Callable[[Caller, C], Awaitable[R]],
    *,
    ids: Mapping[str, GlobalId] | None = None,
    login_email: Callable[[I], str] | None = None,
) -> MutationRow[Any, Any, Any]:
    """A row of the table, its call type-checked against its command and its payload shape (a
    list of rows holds rows of every input type, so the list cannot check them itself)."""
    return MutationRow(name, description, input, command, payload, call, ids or {}, login_email)


def anonymous(rows: Iterable[MutationRow[Any, Any, Any]]) -> frozenset[str]:
    """The names of the mutations that need no token."""
    return frozenset(row.name for row in rows if row.login_email is not None)


def mutation_type(rows: Iterable[MutationRow[Any, Any, Any]]) -> type:
    """The `Mutation` type: one field per row, in the rows' order."""
    return create_type(
        "Mutation",
        [row.strawberry_field() for row in rows],
        description="Changes. Each takes one `input` and returns a payload with `userErrors` "
        "(business refusals) and the objects it touched. Every mutation but `register` and "
        "`login` needs a token with the WRITE scope (else UNAUTHENTICATED or FORBIDDEN).",
    )
