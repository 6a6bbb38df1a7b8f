"""Loading a contract aggregate from its rows, and writing back what an action changed.

A load reads what the action may need (`Reads`: not every request the contract ever had), in
the one statement that locks the contract (each table's rows as a JSON list); a save writes
only what changed, each kind of row in one statement however many milestones there are (a
change request's new milestones, few, one by one), and on PostgreSQL all of it, with the bus's
notice, in one statement (`statements.Batch`). The SQL is text (`app.services.statements`).
Which columns a record has is `app.services.mappers`; what changed since it was read is
`app.services.tracking`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from tortoise import connections

from app.db import models
from app.domain.contract import Contract
from app.domain.events import Event
from app.domain.ledger import Entry, EntryKind, LedgerTotals
from app.domain.milestones import ACTIVE_STATUSES, MAX_SUBMISSIONS, Milestone, Submission
from app.domain.permissions import ContractStatus
from app.domain.policy import Policy
from app.domain.requests import (
    ChangeRequest,
    ChangeRequestStatus,
    Dispute,
    RefundRequest,
    RefundStatus,
)
from app.services.event_outbox import add_event_outbox
from app.services.mappers import (
    CHANGE_REQUESTS,
    DISPUTES,
    MILESTONES,
    REFUND_REQUESTS,
    SUBMISSIONS,
    RecordMap,
)
from app.services.statements import (
    Batch,
    Connection,
    Table,
    is_postgres,
    numbered,
    placeholders,
    rows,
)
from app.services.tracking import Loaded, Request

R = TypeVar("R", RefundRequest, Dispute, ChangeRequest)
# Adds the notice of a save to its batch, given the milestones whose status or money changed
# and the people its notifications tell.
Announce = Callable[[list[int], tuple[int, ...], Batch], Awaitable[None]]


class VersionConflict(Exception):
    """Another transaction changed the contract since it was read; the use case is retried."""


@dataclass(frozen=True)
class Reads:
    """Which of a contract's requests an action reads. Every action reads the pending refund
    requests (a deadline may approve one; a pending one stops work on its milestone), and
    the pending change request unless told it cannot end the contract (ending withdraws it)
    nor propose one; besides, the request it names, every refund request of a milestone (their
    cap), every change request (theirs). Disputes are read only by the actions on one of them.
    What is not read is not written."""

    refund_id: int | None = None
    refunds_of_milestone: int | None = None
    dispute_id: int | None = None
    change_request_id: int | None = None
    every_change_request: bool = False
    pending_change_requests: bool = True

    def refunds(self) -> Condition:
        """Which refund requests to read: a condition, its placeholders from $2."""
        return _any_of(
            ("status", RefundStatus.PENDING),
            ("id", self.refund_id),
            ("milestone_id", self.refunds_of_milestone),
        )

    def disputes(self) -> Condition | None:
        """Which disputes to read, if any."""
        return _any_of(("id", self.dispute_id)) if self.dispute_id is not None else None

    def change_requests(self) -> Condition | None:
        """Which change requests to read, if any."""
        if self.every_change_request:
            return "TRUE", []
        pending = ChangeRequestStatus.PENDING if self.pending_change_requests else None
        wanted = _any_of(("id", self.change_request_id), ("status", pending))
        return wanted if wanted[1] else None


Condition = tuple[str, list[Any]]  # SQL and the values of its placeholders, from $2


def _any_of(*equal: tuple[str, object]) -> Condition:
    """Rows whose column equals any of the values given (a None is not given)."""
    given = [(column, value) for column, value in equal if value is not None]
    sql = " OR ".join(f"{column} = ${n}" for n, (column, _) in enumerate(given, 2))
    return sql, [value for _, value in given]


PENDING = Reads()  # the pending refund and change requests only
WORK = Reads(pending_change_requests=False)  # an action that cannot end the contract


CONTRACTS = Table(models.Contract)
MILESTONE_ROWS = Table(models.Milestone)
SUBMISSION_ROWS = Table(models.Submission)
REFUND_ROWS = Table(models.RefundRequest)
DISPUTE_ROWS = Table(models.Dispute)
CHANGE_ROWS = Table(models.ChangeRequest)
ENTRY_ROWS = Table(models.LedgerEntry)
EVENT_ROWS = Table(models.ContractEvent)

_LEDGER_SUMS = (
    "SELECT contract_id, kind, refunded_fee, SUM(amount) AS total FROM ledger_entries"
    " WHERE contract_id IN ({ids}) GROUP BY contract_id, kind, refunded_fee"
)


async def ledger_totals(
    contract_ids: Iterable[int], conn: Connection | None = None
) -> dict[int, LedgerTotals]:
    """Each contract's entry sums by kind, in one statement."""
    ids = list(contract_ids)
    totals = {cid: LedgerTotals.empty() for cid in ids}
    if not ids:
        return totals
    conn = conn or connections.get("default")
    for row in await rows(conn, _LEDGER_SUMS.format(ids=placeholders(len(ids))), ids):
        _add_sum(totals[row["contract_id"]], row["kind"], row["refunded_fee"], row["total"])
    return totals


def _add_sum(totals: LedgerTotals, kind: str, refunded_fee: str | None, total: int) -> None:
    totals.by_kind[EntryKind(kind)] += int(total)
    if refunded_fee:
        totals.fee_refunds[EntryKind(refunded_fee)] += int(total)


@dataclass(frozen=True)
class Json:
    """A dialect's functions for a JSON list of rows: the list, an array, an object."""

    list: str
    array: str
    object: str


JSON = {
    "postgres": Json("json_agg", "json_build_array", "json_build_object"),
    "sqlite": Json("json_group_array", "json_array", "json_object"),
}
# The contract's ledger sums as a JSON list of [kind, refunded fee, sum].
_SUMS_OF_CONTRACT = (
    "(SELECT {json.list}({json.array}(t.kind, t.refunded_fee, t.total)) FROM (SELECT kind,"
    " refunded_fee, SUM(amount) AS total FROM ledger_entries WHERE contract_id = contracts.id"
    " GROUP BY kind, refunded_fee) t) AS ledger"
)


_ACTIVE = ", ".join(f"'{status.value}'" for status in sorted(ACTIVE_STATUSES))
# The current milestones, each with, if active, its latest submission and how many it has (no
# more than MAX_SUBMISSIONS: the cap), to tell whether the cap is reached.
_MILESTONES_OF_CONTRACT = (
    "(SELECT {json.list}({json.object}('milestone', {json.object}({milestone}),"
    " 'submission', CASE WHEN m.status IN ({active}) THEN (SELECT {json.object}({submission})"
    " FROM submissions s WHERE s.id = (SELECT max(l.id) FROM submissions l"
    " WHERE l.milestone_id = m.id)) END,"
    " 'submissions', CASE WHEN m.status IN ({active}) THEN (SELECT count(*) FROM submissions n"
    " WHERE n.milestone_id = m.id) ELSE 0 END))"
    " FROM milestones m WHERE m.contract_id = contracts.id AND m.deleted = ${deleted})"
    " AS milestones"
)


def _object(table: Table[Any], alias: str) -> str:
    """The arguments of a JSON object of the row's columns."""
    return ", ".join(f"'{c}', {alias}.{c}" for c in table.columns)


def _rows_of_contract(json_: Json, table: Table[Any], where: str, name: str) -> str:
    """The contract's rows of `table` that `where` says, as a JSON list of objects."""
    return (
        f"(SELECT {json_.list}({json_.object}({_object(table, 'r')})) FROM {table.name} r"
        f" WHERE r.contract_id = contracts.id AND ({where})) AS {name}"
    )


@dataclass(frozen=True)
class Locked:
    """A contract's row, locked, with its ledger's sums, its current milestones (the active one
    with its latest submission) and the requests an action reads (None for a kind it does not
    read)."""

    row: models.Contract
    ledger: LedgerTotals
    milestones: list[Milestone]
    refunds: list[RefundRequest]
    disputes: list[Dispute] | None
    change_requests: list[ChangeRequest] | None


async def lock_contract(
    conn: Connection, where: str, params: list[Any], reads: Reads
) -> Locked | None:
    """The contract row `where` names, locked until the transaction ends (on SQLite the
    transaction holds the one connection), in one statement with its ledger's sums, milestones
    and the requests `reads` names.

    A statement that waited for the lock (PostgreSQL, READ COMMITTED) reads the locked row as it
    is now but every other row as it was when the statement began: had a second funding of a
    milestone waited for the first, it would see the milestone unfunded. Every change of the
    aggregate moves the contract's version on, so the version the statement saw before the lock
    (`seen`) tells: if it is not the locked row's, the rest is read again, under the lock."""
    dialect = conn.capabilities.dialect
    lock = " FOR UPDATE" if dialect == "postgres" else ""
    seen = "(SELECT s.version FROM contracts s WHERE s.id = contracts.id) AS seen"
    columns, values = _aggregate(JSON[dialect], reads, [*params])
    found = await rows(
        conn,
        f"SELECT {CONTRACTS.select()}, {seen}, {columns} FROM contracts WHERE {where}{lock}",
        values,
    )
    if not found:
        return None
    row = found[0]
    contract = CONTRACTS.record(row)
    if row["seen"] != contract.version:
        columns, values = _aggregate(JSON[dialect], reads, [contract.id])
        [row] = await rows(conn, f"SELECT {columns} FROM contracts WHERE id = $1", values)
    ledger = LedgerTotals.empty()
    for kind, refunded_fee, total in _json(row["ledger"]):
        _add_sum(ledger, kind, refunded_fee, total)

    def read(name: str, table: Table[Any], mapping: RecordMap[R]) -> list[R] | None:
        if name not in row:
            return None
        return [mapping.from_row(table.record(r)) for r in _json(row[name])]

    refunds = read("refunds", REFUND_ROWS, REFUND_REQUESTS)
    assert refunds is not None  # every action reads the pending ones
    return Locked(
        contract,
        ledger,
        _current_milestones(_json(row["milestones"])),
        refunds,
        read("disputes", DISPUTE_ROWS, DISPUTES),
        read("change_requests", CHANGE_ROWS, CHANGE_REQUESTS),
    )


def _aggregate(json_: Json, reads: Reads, values: list[Any]) -> tuple[str, list[Any]]:
    """The columns of a contract's ledger sums, milestones and the requests `reads` names, for
    a SELECT from contracts whose placeholders are `values`; and the values with theirs."""
    values = [*values, False]
    milestones = _MILESTONES_OF_CONTRACT.format(
        json=json_,
        milestone=_object(MILESTONE_ROWS, "m"),
        submission=_object(SUBMISSION_ROWS, "s"),
        active=_ACTIVE,
        deleted=len(values),
    )
    columns = [_SUMS_OF_CONTRACT.format(json=json_), milestones]
    wanted: dict[str, tuple[Table[Any], Condition | None]] = {
        "refunds": (REFUND_ROWS, reads.refunds()),
        "disputes": (DISPUTE_ROWS, reads.disputes()),
        "change_requests": (CHANGE_ROWS, reads.change_requests()),
    }
    for name, (table, condition) in wanted.items():
        if condition is not None:
            sql, given = condition
            columns.append(_rows_of_contract(json_, table, numbered(sql, len(values)), name))
            values += given
    return ", ".join(columns), values


def _json(value: Any) -> Any:
    """A JSON value as the driver returns it (text, or nested in another), [] for NULL."""
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str) else value


def _current_milestones(found: list[dict[str, Any]]) -> list[Milestone]:
    """The milestones in order, the first active one with its latest submission."""
    milestones: list[Milestone] = []
    active: Milestone | None = None
    for item in sorted(found, key=lambda i: int(_json(i["milestone"])["position"])):
        milestone = MILESTONES.from_row(MILESTONE_ROWS.record(_json(item["milestone"])))
        milestones.append(milestone)
        if active is None and milestone.is_active:
            active = milestone
            if item["submission"] is not None:
                submission = SUBMISSION_ROWS.record(_json(item["submission"]))
                active.latest_submission = SUBMISSIONS.from_row(submission)
            active.submissions = min(int(item["submissions"]), MAX_SUBMISSIONS)
    return milestones


def load_contract(locked: Locked, *, policy: Policy, now: datetime) -> Loaded:
    """The aggregate of a locked contract, tracked to write back what changes."""
    row = locked.row
    contract = Contract(
        id=row.id,
        client_id=row.client_id,
        freelancer_id=row.freelancer_id,
        title=row.title,
        description=row.description,
        currency=row.currency,
        status=ContractStatus(row.status),
        created_at=row.created_at,
        now=now,
        policy=policy,
        accepted_at=row.accepted_at,
        ended_at=row.ended_at,
        last_sequence=row.last_sequence,
        milestones=locked.milestones,
        ledger=locked.ledger,
        refunds=locked.refunds,
        disputes=locked.disputes or [],
        change_requests=locked.change_requests or [],
    )
    return Loaded.track(contract, row.version)


# The contract offered, in the same statement that finds its freelancer: none is no row.
_OFFER_COLUMNS = (
    "client_id", "freelancer_id", "title", "description", "currency", "status", "created_at",
    "last_sequence",
)  # fmt: skip
_OFFER = (
    f"INSERT INTO contracts ({', '.join(_OFFER_COLUMNS)}, accepted_at, ended_at, version)"
    f" SELECT {placeholders(len(_OFFER_COLUMNS))}, NULL, NULL, 0"
    f" WHERE EXISTS (SELECT 1 FROM users WHERE id = ${len(_OFFER_COLUMNS) + 1}) RETURNING id"
)


async def insert_contract(
    contract: Contract, conn: Connection, *, emails: bool
) -> list[int] | None:
    """Store a new contract with its milestones and events (and what they owe: notifications,
    e-mailed if `emails`, and webhook deliveries): the ids of its milestones, or None if its
    freelancer is no user."""
    offer = {
        "client_id": contract.client_id,
        "freelancer_id": contract.freelancer_id,
        "title": contract.title,
        "description": contract.description,
        "currency": contract.currency,
        "status": contract.status,
        "created_at": contract.created_at,
        "last_sequence": contract.last_sequence,
    }
    found = await rows(conn, _OFFER, [*CONTRACTS.db_values(offer), contract.freelancer_id])
    if not found:
        return None
    contract.id = int(found[0]["id"])
    values = [{"contract_id": contract.id, **MILESTONES.values(m)} for m in contract.milestones]
    batch = Batch()
    # the ids told apart by position, however the rows come back
    milestones = batch.add(*MILESTONE_ROWS.insert_rows(values, returning="id, position"))
    await _append(contract, batch, conn, emails=emails)
    stored = (await batch.run(conn))[milestones]
    ids = {int(row["position"]): int(row["id"]) for row in stored}
    for milestone in contract.milestones:
        milestone.id = ids[milestone.position]
    return [m.id for m in contract.milestones if m.id is not None]


async def _insert_one(conn: Connection, table: Table[Any], values: dict[str, Any]) -> int:
    [created] = await rows(conn, *table.insert_rows([values]))
    return int(created["id"])


_CONTRACT_CHANGES = ("status", "accepted_at", "ended_at", "last_sequence", "version")
_VERSIONED = CONTRACTS.update(_CONTRACT_CHANGES, "id = $6 AND version = $7") + " RETURNING id"


async def save_contract(
    loaded: Loaded, conn: Connection, announce: Announce, *, emails: bool
) -> None:
    """Write back the aggregate; a concurrent change of the contract raises VersionConflict.

    What other rows need the ids of (new milestones, new requests) is inserted first, one by
    one; every other write goes in one `Batch`, with what the new events owe (notifications,
    e-mailed if `emails`, and webhook deliveries), and so does the notice (`announce`, told the
    milestones whose status or money changed, new ones included, and the people notified)."""
    contract = loaded.contract
    new = {id(m) for m in contract.milestones if m.id is None}
    await _insert_milestones(contract, conn)
    inserted = await _insert_requests(loaded, conn)
    batch = Batch()
    values = {
        "status": contract.status,
        "accepted_at": contract.accepted_at,
        "ended_at": contract.ended_at,
        "last_sequence": contract.last_sequence,
        "version": loaded.version + 1,
    }
    versioned = batch.add(_VERSIONED, [*CONTRACTS.db_values(values), contract.id, loaded.version])
    submitted = await _save_milestones(loaded, conn, batch)
    _update_requests(loaded, batch, inserted)
    notified = await _append(contract, batch, conn, emails=emails)
    await announce(loaded.watched_changes(new), notified, batch)
    done = await batch.run(conn)
    if len(done[versioned]) != 1:
        raise VersionConflict(f"contract {contract.id} changed concurrently")
    for submission, index in submitted:
        submission.id = int(done[index][0]["id"])


async def _insert_milestones(contract: Contract, conn: Connection) -> None:
    """The milestones a change request added, one by one (there are few; the stored ones may
    still hold the positions they were given)."""
    for milestone in contract.milestones:
        if milestone.id is None:
            values = {"contract_id": contract.id, **MILESTONES.values(milestone)}
            milestone.id = await _insert_one(conn, MILESTONE_ROWS, values)


async def _save_milestones(
    loaded: Loaded, conn: Connection, batch: Batch
) -> list[tuple[Submission, int]]:
    """The deleted milestones (at once), the changed ones and the new or changed submissions
    (in `batch`): the new submissions, each with the index of its id in what the batch
    returns."""
    contract = loaded.contract
    if contract.deleted_milestones:
        deleted = [m.id for m in contract.deleted_milestones]
        await (
            models.Milestone.filter(id__in=deleted)
            .using_db(conn)
            .update(deleted=True, position=None)
        )
    changed_ = [m for m in contract.milestones if loaded.milestone_changed(m)]
    if len(changed_) > 1 and not is_postgres(conn):
        # one statement of its own, as SQLite runs a batch statement by statement
        rows_ = [models.Milestone(id=m.id, **MILESTONES.values(m)) for m in changed_]
        columns = list(MILESTONES.values(changed_[0]))
        await models.Milestone.bulk_update(rows_, columns, using_db=conn)
    else:
        for milestone in changed_:
            assert milestone.id is not None
            batch.add(*_update(MILESTONE_ROWS, milestone.id, MILESTONES.values(milestone)))
    submitted = []
    for milestone in contract.milestones:
        submission = milestone.latest_submission
        if submission is None:
            continue
        if submission.id is None:
            values = {"milestone_id": milestone.id, **SUBMISSIONS.values(submission)}
            submitted.append((submission, batch.add(*SUBMISSION_ROWS.insert_rows([values]))))
        elif loaded.submission_changed(milestone):
            batch.add(*_update(SUBMISSION_ROWS, submission.id, {"status": submission.status}))
    return submitted


def _update(table: Table[Any], pk: int, values: dict[str, Any]) -> tuple[str, list[Any]]:
    """One row's fields, by its id."""
    names = tuple(values)
    update = table.update(names, f"id = ${len(names) + 1}") + " RETURNING id"
    return update, [*table.db_values(values), pk]


def _stored_requests(loaded: Loaded) -> list[tuple[Request, Table[Any], RecordMap[Any]]]:
    contract = loaded.contract
    return [
        *((r, REFUND_ROWS, REFUND_REQUESTS) for r in contract.refunds),
        *((d, DISPUTE_ROWS, DISPUTES) for d in contract.disputes),
        *((c, CHANGE_ROWS, CHANGE_REQUESTS) for c in contract.change_requests),
    ]


async def _insert_requests(loaded: Loaded, conn: Connection) -> set[int]:
    """The new refund requests, disputes and change requests, one by one (events name them);
    which they were, by `id()`."""
    for change_request in loaded.contract.change_requests:
        for change in change_request.changes:
            if change.added is not None:
                change.milestone_id = change.added.id
    inserted = set()
    for request, table, mapping in _stored_requests(loaded):
        if request.id is None:
            values = {"contract_id": loaded.contract.id, **mapping.values(request)}
            request.id = await _insert_one(conn, table, values)
            inserted.add(id(request))
    return inserted


def _update_requests(loaded: Loaded, batch: Batch, inserted: set[int]) -> None:
    """The stored requests that changed, but the `inserted` ones."""
    for request, table, mapping in _stored_requests(loaded):
        if id(request) not in inserted and loaded.request_changed(request):
            assert request.id is not None
            batch.add(*_update(table, request.id, mapping.values(request)))


async def _append(
    contract: Contract, batch: Batch, conn: Connection, *, emails: bool
) -> tuple[int, ...]:
    """Append the new ledger entries and events (never updated afterwards), each kind in one
    statement, and what the events owe (`app.services.event_outbox`); the people notified."""
    assert contract.id is not None
    if contract.entries:
        entries = [entry_values(contract.id, e, contract.now) for e in contract.entries]
        batch.add(*ENTRY_ROWS.insert_rows(entries))
    if contract.events:
        events = [event_values(contract.id, e, contract.now) for e in contract.events]
        batch.add(*EVENT_ROWS.insert_rows(events))
    return await add_event_outbox(contract, batch, conn, emails=emails)


def entry_values(contract_id: int, entry: Entry, now: datetime) -> dict[str, Any]:
    """A ledger entry's row, by field name."""
    return {
        "contract_id": contract_id,
        "milestone_id": entry.milestone_id,
        "kind": entry.kind,
        "amount": entry.amount,
        "debit_account": entry.debit,
        "credit_account": entry.credit,
        "refunded_fee": entry.refunded_fee,
        "created_at": now,
    }


def event_values(contract_id: int, event: Event, now: datetime) -> dict[str, Any]:
    """A contract event's row, by field name."""
    return {
        "contract_id": contract_id,
        "sequence": event.sequence,
        "type": event.type,
        "occurred_at": now,
        "actor_id": event.actor_id,
        "milestone_id": event.milestone_id,
        "change_request_id": event.change_request.id if event.change_request else None,
        "amount": event.amount,
        "message": event.message,
    }
