"""The read side's records (app/services/records.py): each is read from its row column by
column, so a field added to a record needs no other edit, and none carries a secret."""

from __future__ import annotations

import dataclasses
from typing import Any

from tortoise.models import Model

from app.db import models
from app.services.mappers import RecordMap
from app.services.records import CONTRACTS, ENTRIES, EVENTS, STORED_MILESTONES, TOKENS, USERS
from tests.services.flows import Deal

# Record maps, their models and the columns that the read side does not show.
READ: list[tuple[RecordMap[Any], type[Model], set[str]]] = [
    (USERS, models.User, {"password_hash", "created_at"}),
    (CONTRACTS, models.Contract, {"version"}),
    (STORED_MILESTONES, models.Milestone, {"deleted"}),
    (ENTRIES, models.LedgerEntry, {"contract_id"}),
    (EVENTS, models.ContractEvent, set()),
    (TOKENS, models.ApiToken, {"user_id", "token_hash", "revoked_at"}),
]


async def test_every_read_record_holds_its_rows_columns_but_those_it_does_not_show(
    deal: Deal,
) -> None:
    for mapping, model, not_shown in READ:
        rows = await model.all()
        assert rows, model
        for row in rows:
            record = mapping.from_row(row)
            stored = {f.name for f in dataclasses.fields(record)} - mapping.transient
            assert {mapping.columns.get(name, name) for name in stored} | not_shown == set(
                model._meta.db_fields
            ), model
            assert record.id == row.pk


async def test_a_read_record_has_the_values_of_its_row(deal: Deal) -> None:
    token = await models.ApiToken.first()
    assert token is not None
    record = TOKENS.from_row(token)
    assert (record.name, record.is_session, record.created_at) == (
        token.name,
        token.is_session,
        token.created_at,
    )
    assert ",".join(sorted(record.scopes)) == token.scopes
    event = EVENTS.from_row(await models.ContractEvent.get(contract_id=deal.id, sequence=1))
    assert (event.sequence, event.type, event.actor_id) == (
        1,
        "CONTRACT_OFFERED",
        deal.client.user_id,
    )
