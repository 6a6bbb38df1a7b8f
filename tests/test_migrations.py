"""The committed migrations build exactly the models, constraints included (both databases)."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from typing import Any

import pytest
from tortoise import connections
from tortoise.context import get_current_context
from tortoise.exceptions import IntegrityError
from tortoise.migrations.autodetector import MigrationAutodetector
from tortoise.migrations.constraints import UniqueConstraint
from tortoise.models import Model
from tortoise.transactions import in_transaction

from app.db import models
from app.db.config import tortoise_config
from app.domain.permissions import Action
from tests.conftest import is_postgres

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_the_migrations_match_the_models(db: None) -> None:
    """What `tortoise makemigrations` would write: it prints "No changes detected" on []."""
    context = get_current_context()
    assert context is not None and context.apps is not None
    apps_config = tortoise_config("sqlite://:memory:")["apps"]
    writers = await MigrationAutodetector(context.apps, apps_config).changes()
    pending = [
        f"{type(op).__name__} {getattr(op, 'model_name', '')}"
        for writer in writers
        for op in writer.operations
    ]
    assert pending == [], (
        f"models changed without a migration: run `tortoise makemigrations` ({pending})"
    )


Index = tuple[tuple[str, ...], bool]  # columns, unique

PG_INDEXES = """
SELECT ix.indisunique AS is_unique, array_agg(a.attname::text ORDER BY k.ord) AS columns
FROM pg_index ix
JOIN pg_class t ON t.oid = ix.indrelid
CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
WHERE t.relname = $1 AND NOT ix.indisprimary
GROUP BY ix.indexrelid, ix.indisunique
"""


def declared_indexes(model: type[Model]) -> set[Index]:
    """The indexes and unique constraints a model declares, by column."""
    meta = model._meta
    found: set[Index] = {
        (tuple(index) if isinstance(index, tuple) else tuple(index.fields), False)
        for index in meta.indexes
    }
    found |= {(tuple(c.fields), True) for c in meta.constraints if isinstance(c, UniqueConstraint)}
    for name, column in meta.fields_db_projection.items():
        field = meta.fields_map[name]
        if field.pk:
            continue
        if field.unique:
            found.add(((column,), True))
        elif field.index:
            found.add(((column,), False))
    return found


async def existing_indexes(table: str) -> set[Index]:
    connection = connections.get("default")
    if is_postgres():
        rows = await connection.execute_query_dict(PG_INDEXES, [table])
        return {(tuple(row["columns"]), bool(row["is_unique"])) for row in rows}
    found: set[Index] = set()
    for index in await connection.execute_query_dict(f'PRAGMA index_list("{table}")'):
        if index["origin"] == "pk":
            continue
        columns = await connection.execute_query_dict(f'PRAGMA index_info("{index["name"]}")')
        ordered = sorted(columns, key=lambda c: c["seqno"])
        found.add((tuple(c["name"] for c in ordered), bool(index["unique"])))
    return found


@pytest.mark.parametrize(
    "model",
    [
        models.User,
        models.ApiToken,
        models.Contract,
        models.Milestone,
        models.Submission,
        models.LedgerEntry,
        models.ContractEvent,
        models.IdempotencyKey,
    ],
    ids=lambda m: m.__name__,
)
async def test_every_declared_index_exists_in_the_migrated_database(
    db: None, model: type[Model]
) -> None:
    declared = declared_indexes(model)
    missing = declared - await existing_indexes(model._meta.db_table)
    assert not missing, f"{model._meta.db_table} lacks {sorted(missing)}"


async def _contract() -> models.Contract:
    client = await models.User.create(name="C", email="c@example.com", password_hash="-")
    freelancer = await models.User.create(name="F", email="f@example.com", password_hash="-")
    return await models.Contract.create(
        client=client,
        freelancer=freelancer,
        title="T",
        description="",
        currency="USD",
        status="OFFERED",
        created_at=NOW,
    )


async def _refused(model: type[Model], **values: Any) -> None:
    """Inserting the row fails with IntegrityError, and leaves no row behind."""
    before = await model.all().count()
    with pytest.raises(IntegrityError):
        async with in_transaction():
            await model.create(**values)
    assert await model.all().count() == before


async def test_two_events_of_a_contract_cannot_share_a_sequence(db: None) -> None:
    contract = await _contract()
    event: dict[str, Any] = {"contract": contract, "type": "CONTRACT_OFFERED", "occurred_at": NOW}
    await models.ContractEvent.create(sequence=1, **event)
    await _refused(models.ContractEvent, sequence=1, **event)
    await models.ContractEvent.create(sequence=2, **event)


async def test_the_same_sequence_in_two_contracts_is_fine(db: None) -> None:
    first = await _contract()
    other = await models.Contract.create(
        client_id=first.freelancer_id,
        freelancer_id=first.client_id,
        title="T2",
        description="",
        currency="USD",
        status="OFFERED",
        created_at=NOW,
    )
    for contract in (first, other):
        await models.ContractEvent.create(
            contract=contract, sequence=1, type="CONTRACT_OFFERED", occurred_at=NOW
        )


def _entry(contract: models.Contract, **overrides: Any) -> dict[str, Any]:
    return {
        "contract": contract,
        "kind": "FUNDING",
        "amount": 100,
        "debit_account": "CLIENT",
        "credit_account": "ESCROW",
        "created_at": NOW,
        **overrides,
    }


@pytest.mark.parametrize("amount", [0, -1, -10_000])
async def test_the_ledger_refuses_an_amount_that_is_not_positive(db: None, amount: int) -> None:
    contract = await _contract()
    await _refused(models.LedgerEntry, **_entry(contract, amount=amount))
    await models.LedgerEntry.create(**_entry(contract, amount=1))


async def test_the_ledger_refuses_an_entry_from_an_account_to_itself(db: None) -> None:
    contract = await _contract()
    await _refused(models.LedgerEntry, **_entry(contract, credit_account="CLIENT"))


async def test_a_milestone_cannot_pay_out_more_than_its_escrow(db: None) -> None:
    contract = await _contract()
    milestone: dict[str, Any] = {
        "contract": contract,
        "position": 1,
        "title": "M",
        "description": "",
        "amount": 1_000,
        "status": "FUNDED",
        "funded_amount": 1_000,
    }
    await _refused(models.Milestone, **milestone, released_amount=600, refunded_amount=401)
    await models.Milestone.create(**milestone, released_amount=600, refunded_amount=400)


async def test_an_idempotency_key_is_stored_once_per_user_and_mutation(db: None) -> None:
    contract = await _contract()
    key: dict[str, Any] = {
        "user_id": contract.client_id,
        "mutation": "releaseMilestone",
        "key": "k",
        "request_hash": "h",
        "outcome": {},
        "created_at": NOW,
    }
    await models.IdempotencyKey.create(**key)
    await _refused(models.IdempotencyKey, **key)
    await models.IdempotencyKey.create(**{**key, "mutation": "payBonus"})


async def test_0006_scopes_the_stored_idempotency_keys_by_the_domain_action(db: None) -> None:
    migration = importlib.import_module("app.db.migrations.0006_idempotency_scope_by_action")
    assert migration.RENAMED == {
        "payBonus": Action.PAY_BONUS.value,
        "fundMilestone": Action.FUND.value,
        "releaseMilestone": Action.RELEASE.value,
        "resolveDispute": Action.RESOLVE_DISPUTE.value,
    }
    contract = await _contract()
    for old in migration.RENAMED:
        await models.IdempotencyKey.create(
            user_id=contract.client_id,
            mutation=old,
            key="k",
            request_hash="h",
            outcome={},
            created_at=NOW,
        )
    (operation,) = migration.Migration.operations
    for statement in operation.sql:
        await connections.get("default").execute_query(statement)

    stored = await models.IdempotencyKey.all().values_list("mutation", flat=True)
    assert sorted(stored) == sorted(migration.RENAMED.values())
