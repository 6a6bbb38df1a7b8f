"""Scalars. `Decimal` passes the client's string through untouched, so that reading it into
cents (`app.graphql.commands`) answers a bad amount with an `INVALID_AMOUNT` userError rather
than a top-level error. `Date` and `DateTime` are strawberry's, described for a client and
naming the specification of their format (`@specifiedBy`)."""

from __future__ import annotations

import dataclasses
import datetime
from typing import NewType

import strawberry
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition

Decimal = NewType("Decimal", str)

RFC_3339_FORMATS = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"

DECIMAL_SCALAR: ScalarDefinition = strawberry.scalar(
    name="Decimal",
    description='An exact decimal number in a string, such as "25.00": the digits of a JSON '
    "number without exponent. Money amounts have exactly the currency's two decimals; "
    'percentages such as "3.00" are written the same way. As input, any string is accepted '
    "here and a bad amount is refused by the mutation with `INVALID_AMOUNT` on its field.",
    specified_by_url="https://datatracker.ietf.org/doc/html/rfc8259#section-6",
    serialize=str,
    parse_value=lambda value: value if isinstance(value, str) else str(value),
)

DATE_SCALAR = dataclasses.replace(
    DateDefinition,
    description='A calendar date without a time zone, "YYYY-MM-DD" (RFC 3339 full-date), '
    'such as "2026-12-31".',
    specified_by_url=RFC_3339_FORMATS,
)

DATE_TIME_SCALAR = dataclasses.replace(
    DateTimeDefinition,
    description="An instant, as an RFC 3339 date-time with its UTC offset, such as "
    '"2026-12-02T09:30:00.123456+00:00"; the server writes UTC, with microseconds when '
    "there are any.",
    specified_by_url=RFC_3339_FORMATS,
)

SCALARS: dict[object, ScalarDefinition] = {
    Decimal: DECIMAL_SCALAR,
    datetime.date: DATE_SCALAR,
    datetime.datetime: DATE_TIME_SCALAR,
}
