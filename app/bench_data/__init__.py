"""`python -m app seed-bench`: the deterministic data set that `scripts/bench.py` measures.

Every contract is offered and taken through steps of its lifecycle (fund, submit, request a
revision, release, a refund asked and approved, a dispute opened, decline, end) by the domain's
own aggregate (`app.bench_data.lifecycle`), so its events, ledger entries (fees per the policy
of the settings), submissions and requests are the ones those actions make, and every state is
one the lifecycle produces: tests/e2e/test_seed_bench.py checks the books of a seeded database.
What the aggregates made is inserted in bulk, with ids chosen here, in one transaction. The same
arguments always give the same data (random.Random(42)); only the timestamps follow the clock of
the run.

One client (`bench-client@example.com`) holds `--client-contracts` of the contracts: the
dashboard of the benchmark. Two more users without contracts (`bench-cycle-client@…`,
`bench-cycle-freelancer@…`) run the benchmark's money cycle, so that its writes never change
what the reads return. The command prints a token for each of the three. A database that
already holds contracts is refused (exit code 1), unless it holds this data set already: then
only fresh tokens are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.models import Model
from tortoise.transactions import in_transaction

from app.auth.passwords import hash_password
from app.bench_data.lifecycle import Ids, Rows, play_contract
from app.bootstrap import bootstrap, started
from app.db import models
from app.db.config import migrate_database
from app.domain.policy import Policy
from app.services import accounts
from app.services.runtime import Runtime
from app.settings import ensure_secret_key, load_settings

SEED = 42
PASSWORD = "bench-password"
CLIENT_EMAIL = "bench-client@example.com"
CYCLE_CLIENT_EMAIL = "bench-cycle-client@example.com"
CYCLE_FREELANCER_EMAIL = "bench-cycle-freelancer@example.com"
BATCH = 5_000
# Contracts start between a week and two days ago, a few minutes apart per step, so that no
# review clock (14 days) has run out.
SPREAD = timedelta(days=5)
AGE = timedelta(days=2)
# The benchmark's reads (scripts/bench.py): a client's dashboard, 50 contracts with their parties
# and milestones (550 objects), and one contract in detail with 20 ledger entries.
DASHBOARD = """query Dashboard {
  contracts(first: 50) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id title status currency createdAt
      client { id name }
      freelancer { id name }
      milestones { id position title status amount { amount currency } }
    } }
  }
}"""
DETAIL = """query Detail($id: ID!) {
  contract(id: $id) {
    id title status currency createdAt acceptedAt
    client { id name }
    freelancer { id name }
    milestones {
      id position title status amount { amount currency }
      fundedAmount { amount currency } releasedAmount { amount currency }
    }
    escrow {
      held { amount currency }
      totalFunded { amount currency }
      entries(first: 20) {
        totalCount
        pageInfo { hasNextPage }
        edges { node {
          id kind amount { amount currency } createdAt debitAccount creditAccount
        } }
      }
    }
  }
}"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--contracts", type=int, default=10_000, help="default 10,000")
    parser.add_argument("--users", type=int, default=2_000, help="default 2,000")
    parser.add_argument(
        "--client-contracts",
        type=int,
        default=250,
        help="contracts of bench-client@example.com (default 250, at most --contracts)",
    )


def seed_bench(args: argparse.Namespace) -> int:
    settings = ensure_secret_key(load_settings())
    if args.contracts < 1 or args.users < 10 or args.client_contracts < 1:
        print(
            "seed-bench: --contracts >= 1, --users >= 10, --client-contracts >= 1", file=sys.stderr
        )
        return 2

    async def run() -> int:
        await migrate_database(settings.DATABASE_URL)
        runtime = bootstrap(settings)
        async with started(settings, runtime, listen=False):
            return await seed(runtime, args.contracts, args.users, args.client_contracts)

    return asyncio.run(run())


async def _next_id(model: type[Model]) -> int:
    last = await model.all().order_by("-id").first()
    return 1 if last is None else int(last.pk) + 1


async def _users(count: int, rows: Rows) -> list[int]:
    """The bench users: the dashboard client, the two of the money cycle, then the others, all
    with one password."""
    first = await _next_id(models.User)
    digest = hash_password(PASSWORD)
    emails = [CLIENT_EMAIL, CYCLE_CLIENT_EMAIL, CYCLE_FREELANCER_EMAIL]
    emails += [f"bench-user-{i}@example.com" for i in range(len(emails), count)]
    rows.users += [
        models.User(id=first + i, email=email, name=f"Bench User {i}", password_hash=digest)
        for i, email in enumerate(emails)
    ]
    return [first + i for i in range(count)]


async def _ids() -> Ids:
    """The last id of each table: a database with users (the demo's, say) takes bench data."""

    async def last(model: type[Model]) -> int:
        return await _next_id(model) - 1

    return Ids(
        milestone=await last(models.Milestone),
        submission=await last(models.Submission),
        entry=await last(models.LedgerEntry),
        event=await last(models.ContractEvent),
        refund=await last(models.RefundRequest),
        dispute=await last(models.Dispute),
    )


async def _play_all(contracts: int, users: int, client_contracts: int, policy: Policy) -> Rows:
    rng = random.Random(SEED)
    ids, rows = await _ids(), Rows()
    user_ids = await _users(users, rows)
    first = await _next_id(models.Contract)
    heavy = set(rng.sample(range(contracts), min(client_contracts, contracts)))
    others = user_ids[3:]
    start = datetime.now(UTC) - AGE - SPREAD
    for number in range(contracts):
        freelancer = rng.choice(others)
        client = user_ids[0] if number in heavy else rng.choice(others)
        while client == freelancer:
            client = rng.choice(others)
        created_at = start + SPREAD * number / contracts
        play_contract(first + number, (client, freelancer), created_at, policy, rng, ids, rows)
    return rows


async def _insert(rows: Rows) -> None:
    async with in_transaction() as conn:
        for table in rows.tables():
            await _bulk(table, conn)
        if conn.capabilities.dialect == "postgres":
            # The ids were chosen here: each sequence moves past them.
            for model in TABLES:
                name = model._meta.db_table
                await conn.execute_script(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'),"
                    f" (SELECT MAX(id) FROM {name}))"
                )
        # Fresh statistics, or the planner takes the bulk-loaded tables for small ones.
        await conn.execute_script("ANALYZE")


TABLES: Sequence[type[Model]] = (
    models.User,
    models.Contract,
    models.Milestone,
    models.Submission,
    models.LedgerEntry,
    models.ContractEvent,
    models.RefundRequest,
    models.Dispute,
)


async def _bulk(objects: list[Model], conn: Any) -> None:
    by_model: dict[type[Model], list[Model]] = {}
    for obj in objects:
        by_model.setdefault(type(obj), []).append(obj)
    for model, group in by_model.items():
        await model.bulk_create(group, batch_size=BATCH, using_db=conn)


async def seed(runtime: Runtime, contracts: int, users: int, client_contracts: int) -> int:
    client = await models.User.filter(email=CLIENT_EMAIL).first()
    if client is None and await models.Contract.exists():
        print(
            "seed-bench: the database already holds contracts that are not the bench data;"
            " seed an empty database.",
            file=sys.stderr,
        )
        return 1
    if client is None:
        rows = await _play_all(contracts, users, client_contracts, runtime.policy)
        await _insert(rows)
        print(
            f"Seeded {len(rows.users)} users, {len(rows.contracts)} contracts, "
            f"{len(rows.milestones)} milestones, {len(rows.entries)} ledger entries, "
            f"{len(rows.events)} events, {len(rows.submissions)} submissions."
        )
    else:
        print("The bench data is already loaded; issuing fresh tokens.")
    for label, email in (
        ("client", CLIENT_EMAIL),
        ("cycle-client", CYCLE_CLIENT_EMAIL),
        ("cycle-freelancer", CYCLE_FREELANCER_EMAIL),
    ):
        user = await models.User.get(email=email)
        token = await accounts.issue_token_for(runtime, user.id, f"bench {label}")
        print(f"  {label:<17} {email:<36} id {user.id}")
        print(f"                    Authorization: Bearer {token}")
    return 0
