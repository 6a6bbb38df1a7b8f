"""Rows <-> records (app/services/mappers.py): every field of a record is stored in a column and
read back as it was, so a field added to a domain dataclass needs no edit of the mapping."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from typing import Any

from tortoise.models import Model

from app.db import models
from app.domain.requests import ChangeAction, MilestoneChange
from app.services.mappers import (
    CHANGE_REQUESTS,
    DISPUTES,
    MILESTONES,
    REFUND_REQUESTS,
    SUBMISSIONS,
    RecordMap,
    change_from_json,
    change_to_json,
)
from tests.services.conftest import M1
from tests.services.flows import Deal, update

M2 = 1

# Record maps, their models and the columns the repository sets apart from the record's fields.
STORED: list[tuple[RecordMap[Any], type[Model], set[str]]] = [
    (MILESTONES, models.Milestone, {"contract_id", "deleted"}),
    (SUBMISSIONS, models.Submission, {"milestone_id"}),
    (REFUND_REQUESTS, models.RefundRequest, {"contract_id"}),
    (DISPUTES, models.Dispute, {"contract_id"}),
    (CHANGE_REQUESTS, models.ChangeRequest, {"contract_id"}),
]


async def test_every_record_reads_back_from_the_columns_it_writes(deal: Deal) -> None:
    refund_id = await deal.request_refund(M1)
    await deal.answer_refund(refund_id, approve=False)
    await deal.submit(M1)
    await deal.open_dispute(M1)
    await deal.propose(update(deal.ids[M2], title="Renamed", due_date=date(2026, 5, 1)))
    for mapping, model, set_apart in STORED:
        rows = await model.all()
        assert rows, model
        for row in rows:
            record = mapping.from_row(row)
            values = mapping.values(record)
            assert {"id", *values, *set_apart} == model._meta.db_fields
            assert mapping.from_row(model(id=row.pk, **values)) == record


def test_every_field_of_a_change_reads_back_from_its_json() -> None:
    change = MilestoneChange(
        action=ChangeAction.UPDATE,
        milestone_id=3,
        position=2,
        title="Renamed",
        description="Longer",
        amount=6_000,
        due_date=date(2026, 5, 1),
        unit_price=3_000,
        max_units=2,
    )
    stored = json.loads(json.dumps(change_to_json(change)))
    assert set(stored) == {f.name for f in dataclasses.fields(MilestoneChange)} - {"added"}
    assert None not in stored.values()
    assert change_from_json(stored) == change


def test_a_change_stored_before_a_field_existed_reads_it_as_not_given() -> None:
    assert change_from_json({"action": "DELETE", "milestone_id": 4}) == MilestoneChange(
        action=ChangeAction.DELETE, milestone_id=4
    )
