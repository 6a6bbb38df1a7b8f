"""The raw baseline's money cycle: create, accept, fund, submit and release in hand-written SQL.

Each step is one transaction that reads and locks the contract (`FOR UPDATE` on PostgreSQL),
checks who acts and from which status, and writes what the matching mutation writes: the
changed rows, the ledger entries with their fees (`app.domain.money.fee`, the policy of the
settings), the event under the contract's next sequence, the contract's new version, and on
PostgreSQL the `pg_notify` of the server's bus with the same payload (on a channel of its own, so
that the server, which listens on its channel, does no work for the baseline's steps). The
cycle sends no idempotency keys, so neither writes idempotency rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bench_raw_db import Database, Postgres, Tx

from app.domain.money import fee, parse_amount
from app.domain.policy import Policy
from app.events.fanout import Notice
from app.graphql.ids import decode_id, encode_id

Input = dict[str, Any]
OPEN = ("OFFERED", "ACTIVE")  # the first milestone may be funded before the offer is accepted
CHANNEL = "escrow_changes_raw_baseline"


class Refused(Exception):
    """The step is not allowed: the answer carries a userError, as the server's would."""


def _id(value: Any, type_name: str) -> int:
    found = decode_id(str(value), type_name)
    if found is None:
        raise Refused(f"No such {type_name.lower()}")
    return found


async def _event(
    tx: Tx,
    db: Database,
    contract_id: int,
    parties: tuple[int, int],
    type_: str,
    actor: int,
    now: datetime,
    milestone_id: int | None = None,
    amount: int | None = None,
) -> None:
    """The contract's next event, with its sequence and version moved on, and its notice."""
    rows = await tx.rows(
        "UPDATE contracts SET last_sequence = last_sequence + 1, version = version + 1"
        " WHERE id = $1 RETURNING last_sequence",
        contract_id,
    )
    await tx.rows(
        "INSERT INTO contract_events (contract_id, sequence, type, occurred_at, actor_id,"
        " milestone_id, amount) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        contract_id, rows[0][0], type_, db.stamp(now), actor, milestone_id, amount,
    )  # fmt: skip
    if isinstance(db, Postgres):
        milestones = (milestone_id,) if milestone_id is not None else ()
        notice = Notice(contract_id, rows[0][0], milestones, parties)
        await tx.rows("SELECT pg_notify($1, $2)", CHANNEL, notice.encode())


async def _entry(
    tx: Tx, db: Database, contract_id: int, milestone_id: int, kind: str, amount: int, now: datetime
) -> None:
    routes = {
        "FUNDING": ("CLIENT", "ESCROW"),
        "PROCESSING_FEE": ("CLIENT", "PLATFORM"),
        "INITIATION_FEE": ("CLIENT", "PLATFORM"),
        "RELEASE": ("ESCROW", "FREELANCER"),
        "SERVICE_FEE": ("FREELANCER", "PLATFORM"),
    }
    if amount <= 0:
        return
    debit, credit = routes[kind]
    await tx.rows(
        "INSERT INTO ledger_entries (contract_id, milestone_id, kind, amount, debit_account,"
        " credit_account, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        contract_id, milestone_id, kind, amount, debit, credit, db.stamp(now),
    )  # fmt: skip


async def create(db: Database, uid: int, data: Input, policy: Policy) -> dict[str, Any]:
    freelancer = _id(data["freelancerId"], "User")
    amount = parse_amount(str(data["milestones"][0]["amount"]))
    now = datetime.now(UTC)
    async with db.transaction() as tx:
        contract = await tx.rows(
            "INSERT INTO contracts (title, description, currency, status, created_at,"
            " last_sequence, version, client_id, freelancer_id)"
            " SELECT $1, '', 'USD', 'OFFERED', $2, 0, 0, $3, $4"
            " WHERE EXISTS (SELECT 1 FROM users WHERE id = $4) RETURNING id",
            str(data["title"]), db.stamp(now), uid, freelancer,
        )  # fmt: skip
        if not contract:
            raise Refused("No such freelancer")
        cid = contract[0][0]
        milestone = await tx.rows(
            "INSERT INTO milestones (contract_id, position, title, description, amount, status,"
            " units_released, funded_amount, released_amount, refunded_amount, deleted)"
            " VALUES ($1, 1, $2, '', $3, 'NOT_FUNDED', 0, 0, 0, 0, FALSE) RETURNING id",
            cid, str(data["milestones"][0]["title"]), amount,
        )  # fmt: skip
        await _event(tx, db, cid, (uid, freelancer), "CONTRACT_OFFERED", uid, now)
    return {
        "contract": {
            "id": encode_id("Contract", cid),
            "milestones": [{"id": encode_id("Milestone", milestone[0][0])}],
        }
    }


async def _contract(db: Database, tx: Tx, contract_id: int) -> Any:
    rows = await tx.rows(
        "SELECT client_id, freelancer_id, status FROM contracts WHERE id = $1" + db.lock,
        contract_id,
    )
    if not rows:
        raise Refused("No such contract")
    return rows[0]


async def accept(db: Database, uid: int, data: Input, policy: Policy) -> dict[str, Any]:
    cid = _id(data["contractId"], "Contract")
    now = datetime.now(UTC)
    async with db.transaction() as tx:
        client, freelancer, status = await _contract(db, tx, cid)
        if freelancer != uid or status != "OFFERED":
            raise Refused("The contract cannot be accepted")
        await tx.rows(
            "UPDATE contracts SET status = 'ACTIVE', accepted_at = $2 WHERE id = $1",
            cid,
            db.stamp(now),
        )
        await _event(tx, db, cid, (client, freelancer), "CONTRACT_ACCEPTED", uid, now)
    return {"contract": {"id": data["contractId"], "status": "ACTIVE"}}


async def _milestone(db: Database, tx: Tx, milestone_id: int) -> tuple[Any, Any]:
    """The milestone (contract id, status, amount, funded) and its locked contract."""
    rows = await tx.rows(
        "SELECT contract_id, status, amount, funded_amount FROM milestones WHERE id = $1",
        milestone_id,
    )
    if not rows:
        raise Refused("No such milestone")
    return rows[0], await _contract(db, tx, rows[0][0])


async def fund(db: Database, uid: int, data: Input, policy: Policy) -> dict[str, Any]:
    mid = _id(data["milestoneId"], "Milestone")
    now = datetime.now(UTC)
    async with db.transaction() as tx:
        (cid, status, amount, _), (client, freelancer, contract_status) = await _milestone(
            db, tx, mid
        )
        if client != uid or status != "NOT_FUNDED" or contract_status not in OPEN:
            raise Refused("The milestone cannot be funded")
        charged = await tx.rows(
            "SELECT count(*) FROM ledger_entries WHERE contract_id = $1"
            " AND kind = 'INITIATION_FEE'",
            cid,
        )
        await _entry(tx, db, cid, mid, "FUNDING", amount, now)
        processing = fee(amount, policy.client_processing_fee_bps)
        await _entry(tx, db, cid, mid, "PROCESSING_FEE", processing, now)
        if not charged[0][0]:
            await _entry(tx, db, cid, mid, "INITIATION_FEE", policy.contract_initiation_fee, now)
        await tx.rows(
            "UPDATE milestones SET status = 'FUNDED', funded_amount = $2, funded_at = $3"
            " WHERE id = $1",
            mid, amount, db.stamp(now),
        )  # fmt: skip
        parties = (client, freelancer)
        await _event(tx, db, cid, parties, "MILESTONE_FUNDED", uid, now, mid, amount)
    return {"milestone": {"id": data["milestoneId"], "status": "FUNDED"}}


async def submit(db: Database, uid: int, data: Input, policy: Policy) -> dict[str, Any]:
    mid = _id(data["milestoneId"], "Milestone")
    now = datetime.now(UTC)
    async with db.transaction() as tx:
        (cid, status, _, funded), (client, freelancer, _) = await _milestone(db, tx, mid)
        if freelancer != uid or status not in ("FUNDED", "REVISION_REQUESTED"):
            raise Refused("The milestone cannot be submitted")
        await tx.rows(
            "INSERT INTO submissions (milestone_id, message, attachments, requested_amount,"
            " status, created_at) VALUES ($1, '', '[]', $2, 'PENDING', $3)",
            mid, funded, db.stamp(now),
        )  # fmt: skip
        await tx.rows(
            "UPDATE milestones SET status = 'SUBMITTED', submitted_at = $2, auto_release_at = $3"
            " WHERE id = $1",
            mid, db.stamp(now), db.stamp(now + policy.auto_release_after),
        )  # fmt: skip
        parties = (client, freelancer)
        await _event(tx, db, cid, parties, "MILESTONE_SUBMITTED", uid, now, mid, funded)
    return {"milestone": {"id": data["milestoneId"], "status": "SUBMITTED"}}


async def release(db: Database, uid: int, data: Input, policy: Policy) -> dict[str, Any]:
    mid = _id(data["milestoneId"], "Milestone")
    now = datetime.now(UTC)
    async with db.transaction() as tx:
        (cid, status, _, funded), (client, freelancer, _) = await _milestone(db, tx, mid)
        if client != uid or status != "SUBMITTED":
            raise Refused("The milestone cannot be released")
        pending = await tx.rows(
            "SELECT id, requested_amount FROM submissions WHERE milestone_id = $1"
            " AND status = 'PENDING' ORDER BY id DESC LIMIT 1",
            mid,
        )
        amount = pending[0][1] if pending else funded
        await _entry(tx, db, cid, mid, "RELEASE", amount, now)
        service = fee(amount, policy.freelancer_service_fee_bps)
        await _entry(tx, db, cid, mid, "SERVICE_FEE", service, now)
        await tx.rows(
            "UPDATE milestones SET status = 'RELEASED', released_amount = $2, released_at = $3,"
            " auto_release_at = NULL WHERE id = $1",
            mid, amount, db.stamp(now),
        )  # fmt: skip
        if pending:
            await tx.rows("UPDATE submissions SET status = 'RELEASED' WHERE id = $1", pending[0][0])
        parties = (client, freelancer)
        await _event(tx, db, cid, parties, "MILESTONE_RELEASED", uid, now, mid, amount)
    return {"milestone": {"id": data["milestoneId"], "status": "RELEASED"}}


STEPS = {
    "createContract": create,
    "acceptContract": accept,
    "fundMilestone": fund,
    "submitMilestone": submit,
    "releaseMilestone": release,
}
