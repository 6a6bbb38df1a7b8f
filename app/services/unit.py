"""The unit of work: one transaction per use case on one contract, on one connection.

Find and lock the contract row in one statement, by its id or by the id of the part a command
names (`Part`: a milestone, a request; PostgreSQL locks, SQLite serialises transactions on its
one connection), load the aggregate, check visibility, replay an idempotent retry or run the
domain action, write back what changed under a version check, and commit. Every statement runs
on the transaction's connection. A version conflict reruns the whole use case on fresh state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from app.db import models
from app.domain.commands import Command
from app.domain.contract import Contract
from app.domain.errors import DomainError, ErrorCode, Problem, refuse
from app.domain.milestones import Milestone
from app.domain.permissions import Action, Actor
from app.domain.requests import ChangeRequest, Dispute, RefundRequest
from app.events.bus import Executor
from app.events.fanout import Notice
from app.services.repository import (
    PENDING,
    Reads,
    VersionConflict,
    load_contract,
    lock_contract,
    save_contract,
)
from app.services.runtime import Runtime
from app.services.statements import Batch, Connection, Table, rows
from app.services.tracking import Loaded

T = TypeVar("T")

MAX_ATTEMPTS = 5
MAX_KEY_LENGTH = 255
KEYS = Table(models.IdempotencyKey)
_STORED_KEY = (
    f"SELECT {KEYS.select()} FROM {KEYS.name} WHERE user_id = $1 AND mutation = $2 AND key = $3"
)


@dataclass(frozen=True)
class Outcome:
    """What a mutation touched, by id; `problems` when it was refused."""

    contract_id: int | None = None
    milestone_id: int | None = None
    refund_request_id: int | None = None
    dispute_id: int | None = None
    change_request_id: int | None = None
    problems: tuple[Problem, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name != "problems"
        }
        data["problems"] = [[p.code, p.message, p.field] for p in self.problems]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Outcome:
        ids = {f.name: data.get(f.name) for f in fields(cls) if f.name != "problems"}
        problems = tuple(
            Problem(ErrorCode(code), message, tuple(field) if field else None)
            for code, message, field in data["problems"]
        )
        return cls(**ids, problems=problems)


@dataclass(frozen=True)
class Touched:
    """The objects an action changed, named by id in its Outcome once they are stored."""

    milestone: Milestone | None = None
    refund: RefundRequest | None = None
    dispute: Dispute | None = None
    change_request: ChangeRequest | None = None

    def outcome(self, contract: Contract) -> Outcome:
        return Outcome(
            contract_id=contract.id,
            milestone_id=self.milestone.id if self.milestone else None,
            refund_request_id=self.refund.id if self.refund else None,
            dispute_id=self.dispute.id if self.dispute else None,
            change_request_id=self.change_request.id if self.change_request else None,
        )


ContractAction = Callable[[Contract], Touched]


@dataclass(frozen=True)
class Idempotency:
    """An idempotency key and the command it was sent with. A key is kept per user and
    action (`Action.PAY_BONUS`, ...), the action's value stored as its scope."""

    action: Action
    key: str
    command: Command

    @property
    def request_hash(self) -> str:
        """The command's fields but the key, as canonical JSON of their typed values: amounts
        in cents, so "10" and "10.00" are the same request."""
        request = {
            f.name: getattr(self.command, f.name)
            for f in fields(self.command)
            if f.name != "idempotency_key"
        }
        canonical = json.dumps(request, sort_keys=True, default=_json_value)
        return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency(action: Action, command: Command) -> Idempotency | None:
    """The key a command was sent with, if any (`idempotency_key`)."""
    key: str | None = getattr(command, "idempotency_key", None)
    return Idempotency(action, key, command) if key is not None else None


def _json_value(value: object) -> object:
    """The JSON form of a command value that is not JSON already: a nested record, a problem
    the edge found (its message keeps the refused text apart) or a date."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a command value")


def noun_of(field: str) -> str:
    """What an id field names: "change_request_id" names a change request."""
    return field.removesuffix("_id").replace("_", " ")


@dataclass(frozen=True)
class Part:
    """What a command names its contract by: the contract's id, or the id of one of its parts
    (a milestone, a request), `field` being the command's field that holds it; and which of the
    contract's requests the action reads (`Reads`). A milestone is looked for among the
    contract's current ones if `current_only`."""

    model: type[Model]
    id: int
    field: str
    reads: Reads = PENDING
    current_only: bool = False

    @classmethod
    def contract(cls, contract_id: int, field: str = "contract_id", reads: Reads = PENDING) -> Part:
        return cls(models.Contract, contract_id, field, reads)

    @classmethod
    def milestone(
        cls, milestone_id: int, *, current_only: bool = False, reads: Reads = PENDING
    ) -> Part:
        return cls(models.Milestone, milestone_id, "milestone_id", reads, current_only)

    @classmethod
    def refund_request(cls, refund_id: int) -> Part:
        return cls(models.RefundRequest, refund_id, "refund_request_id", Reads(refund_id=refund_id))

    @classmethod
    def dispute(cls, dispute_id: int) -> Part:
        return cls(models.Dispute, dispute_id, "dispute_id", Reads(dispute_id=dispute_id))

    @classmethod
    def change_request(cls, request_id: int) -> Part:
        reads = Reads(change_request_id=request_id)
        return cls(models.ChangeRequest, request_id, "change_request_id", reads)

    def where(self) -> tuple[str, list[Any]]:
        """Which contract row: a condition and its values. The part is found in a subquery."""
        if self.model is models.Contract:
            return "id = $1", [self.id]
        current = " AND deleted = $2" if self.current_only else ""
        table = self.model._meta.db_table
        where = f"id = (SELECT contract_id FROM {table} WHERE id = $1{current})"
        return where, [self.id, False] if self.current_only else [self.id]


async def run_on_contract(
    runtime: Runtime,
    actor: Actor,
    contract_id: int,
    act: ContractAction,
    *,
    idempotency: Idempotency | None = None,
    field: str = "contract_id",
    reads: Reads = PENDING,
) -> Outcome:
    """Run `act` on the contract in one transaction; refusals are raised as DomainError.

    A refusal under an idempotency key is stored and returned in `Outcome.problems`.
    """
    part = Part.contract(contract_id, field, reads)
    return await run_on_part(runtime, actor, part, act, idempotency=idempotency)


async def run_on_part(
    runtime: Runtime,
    actor: Actor,
    part: Part,
    act: ContractAction,
    *,
    idempotency: Idempotency | None = None,
) -> Outcome:
    """`run_on_contract` on the contract that `part` belongs to (NOT_FOUND on `part.field` if
    there is none), found inside the transaction."""
    for _ in range(MAX_ATTEMPTS):
        try:
            return await _attempt(runtime, actor, part, act, idempotency)
        except (VersionConflict, IntegrityError):
            continue
    raise RuntimeError(f"the contract of {part} kept changing under {MAX_ATTEMPTS} attempts")


async def _attempt(
    runtime: Runtime,
    actor: Actor,
    part: Part,
    act: ContractAction,
    idempotency: Idempotency | None,
) -> Outcome:
    not_found = refuse(ErrorCode.NOT_FOUND, f"No such {noun_of(part.field)}", [part.field])
    refusal: DomainError | None = None
    saved = Saved(runtime)
    async with in_transaction() as conn:
        loaded = await _lock_and_load(runtime, part.where(), part.reads, conn)
        if loaded is None or not loaded.contract.is_visible_to(actor):
            raise not_found
        deadlines_fired = loaded.contract.apply_deadlines()
        if deadlines_fired:
            # A passed deadline takes effect before the action, and stays even if the action
            # is then refused.
            await saved.save(loaded, conn)
            assert loaded.contract.id is not None
            again = Part.contract(loaded.contract.id).where()
            loaded = await _lock_and_load(runtime, again, part.reads, conn)
            assert loaded is not None
        try:
            outcome = await _run(runtime, actor, loaded, act, idempotency, conn, saved)
        except DomainError as error:
            if not deadlines_fired:
                raise
            refusal = error
    saved.committed()
    if refusal is not None:
        raise refusal
    return outcome


async def _lock_and_load(
    runtime: Runtime, contract: tuple[str, list[Any]], reads: Reads, conn: Connection
) -> Loaded | None:
    locked = await lock_contract(conn, *contract, reads)
    if locked is None:
        return None
    return load_contract(locked, policy=runtime.policy, now=runtime.clock())


async def _run(
    runtime: Runtime,
    actor: Actor,
    loaded: Loaded,
    act: ContractAction,
    idempotency: Idempotency | None,
    conn: Connection,
    saved: Saved,
) -> Outcome:
    """Run the action, or under an idempotency key replay the first outcome of the request."""
    if idempotency is None:
        return await _act(loaded, act, conn, saved)
    loaded.contract.authorize(actor, idempotency.action)
    if len(idempotency.key) > MAX_KEY_LENGTH:
        raise refuse(
            ErrorCode.INVALID_INPUT,
            f"An idempotency key is at most {MAX_KEY_LENGTH} characters",
            ["idempotency_key"],
        )
    found = await rows(
        conn, _STORED_KEY, [actor.user_id, idempotency.action.value, idempotency.key]
    )
    if found:
        stored = KEYS.record(found[0])
        if stored.request_hash != idempotency.request_hash:
            raise refuse(
                ErrorCode.IDEMPOTENCY_KEY_REUSED,
                "This idempotency key was used with a different request",
                ["idempotency_key"],
            )
        return Outcome.from_json(stored.outcome)
    try:
        outcome = await _act(loaded, act, conn, saved)
    except DomainError as error:
        outcome = Outcome(problems=error.problems)
    key = {
        "user_id": actor.user_id,
        "mutation": idempotency.action.value,
        "key": idempotency.key,
        "request_hash": idempotency.request_hash,
        "outcome": outcome.to_json(),
        "created_at": runtime.clock(),
    }
    await rows(conn, *KEYS.insert_rows([key]))
    return outcome


async def _act(loaded: Loaded, act: ContractAction, conn: Connection, saved: Saved) -> Outcome:
    touched = act(loaded.contract)
    await saved.save(loaded, conn)
    return touched.outcome(loaded.contract)


class Saved:
    """Saves aggregates inside the transaction and tells subscribers once it has committed."""

    def __init__(self, runtime: Runtime) -> None:
        self.bus = runtime.bus
        self.emails = runtime.emails
        self.notices: list[Notice] = []

    async def save(self, loaded: Loaded, conn: Connection) -> None:
        async def announce(
            milestone_ids: list[int], notified: tuple[int, ...], batch: Batch
        ) -> None:
            await self.announce(loaded.contract, milestone_ids, batch, notified)

        await save_contract(loaded, conn, announce, emails=self.emails)

    async def announce(
        self,
        contract: Contract,
        milestone_ids: list[int],
        conn: Executor,
        notified: tuple[int, ...] = (),
    ) -> None:
        """Publish the contract's notice on `conn`: the transaction's connection, or the batch
        of its writes. Its people are the parties and whoever else was `notified` (the admins
        of a dispute opened), whose `notificationAdded` it wakes."""
        assert contract.id is not None
        notice = Notice(
            contract_id=contract.id,
            sequence=contract.last_sequence,
            milestone_ids=tuple(milestone_ids),
            party_ids=tuple(dict.fromkeys((contract.client_id, contract.freelancer_id, *notified))),
        )
        await self.bus.publish(conn, notice)
        self.notices.append(notice)

    def committed(self) -> None:
        for notice in self.notices:
            self.bus.committed(notice)
