"""What the compiled read path needs to know of a field with a resolver, declared on the
strawberry field itself (its `metadata`), so the type and the planner read one description.

`relation(...)` marks a field whose resolver follows a relation (which loader, keyed by which
field of the parent's record); `private(...)` a user's field that only the user and admins see
(`leaf_types.shows_private`). A resolver without either mark is not covered by the planner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry

RELATION = "compiled.relation"
PRIVATE = "compiled.private"


@dataclass(frozen=True)
class Relation:
    """A field with a resolver, read through a loader of `run.py` keyed by the row's `key`.

    `loader` names a batch (one statement for every parent) unless `paged`, a connection
    read per parent with the field's arguments (so it is covered only under one parent)."""

    loader: str
    key: str = "id"
    paged: bool = False


def relation(
    loader: str, *, key: str = "id", paged: bool = False, description: str | None = None
) -> Any:
    """A strawberry field whose resolver reads `loader` by the parent record's `key`."""
    return strawberry.field(
        description=description, metadata={RELATION: Relation(loader, key, paged)}
    )


def private(*, description: str) -> Any:
    """A strawberry field of a user that only the user and admins see (null for others)."""
    return strawberry.field(description=description, metadata={PRIVATE: True})
