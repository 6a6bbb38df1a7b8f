"""Scalars. `Decimal` passes the client's string through untouched, so that reading it into
cents (`app.graphql.commands`) answers a bad amount with an `INVALID_AMOUNT` userError rather
than a top-level error."""

from __future__ import annotations

from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

Decimal = NewType("Decimal", str)

DECIMAL_SCALAR: ScalarDefinition = strawberry.scalar(
    name="Decimal",
    description='A decimal amount as a string, such as "25.00".',
    serialize=str,
    parse_value=lambda value: value if isinstance(value, str) else str(value),
)

SCALARS: dict[object, ScalarDefinition] = {Decimal: DECIMAL_SCALAR}
