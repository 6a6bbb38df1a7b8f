"""`python -m tests.e2e.books_check`: every ledger and state invariant of
tests/services/books.py, checked on the database of DATABASE_URL.

The fault tests run it as a process of its own, with their servers' environment: the test
process may already have Tortoise open on the test suite's database."""

from __future__ import annotations

import asyncio

from app.db.config import close_database, open_database
from app.settings import load_settings
from tests.services.books import check_books, snapshot


async def main() -> None:
    settings = load_settings()
    await open_database(settings.DATABASE_URL)
    try:
        books = await snapshot()
        check_books(books, settings.policy)
    finally:
        await close_database()
    print(f"The books of {len(books.contracts)} contract(s) hold.")


if __name__ == "__main__":
    asyncio.run(main())
