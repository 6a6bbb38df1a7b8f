"""The documents of automatic persisted queries, in the database so that every server process
on it knows a document any of them registered.

The table is bounded: after each registration, the documents registered more than `max_count`
registrations ago go (ids grow with each insert). A client whose document went is told
`PersistedQueryNotFound` and registers it again, as Apollo's link does by itself.
"""

from __future__ import annotations

from app.db.models import PersistedQuery


class StoredDocuments:
    def __init__(self, max_count: int) -> None:
        self.max_count = max_count

    async def get(self, sha256: str) -> str | None:
        row = await PersistedQuery.get_or_none(sha256=sha256).only("document")
        return row.document if row is not None else None

    async def put(self, sha256: str, document: str) -> None:
        """Register a document (a second registration of one changes nothing), then forget
        those beyond the bound."""
        await PersistedQuery.bulk_create(
            [PersistedQuery(sha256=sha256, document=document)], ignore_conflicts=True
        )
        newest = await PersistedQuery.all().order_by("-id").first().only("id")
        if newest is not None and newest.id > self.max_count:
            await PersistedQuery.filter(id__lte=newest.id - self.max_count).delete()
