"""Tortoise configuration, and the one place that opens and migrates the database."""

from __future__ import annotations

import os
from typing import Any

from tortoise import Tortoise
from tortoise.migrations.api.migrate import migrate

MODELS = ["app.db.models"]
MIGRATIONS = "app.db.migrations"
MIGRATION_LOCK = 7_415_001  # pg_advisory_lock key: one migrating process at a time


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": database_url},
        "apps": {
            "models": {
                "models": MODELS,
                "default_connection": "default",
                "migrations": MIGRATIONS,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# For the `tortoise` command line (makemigrations); the app itself passes its settings.
TORTOISE_ORM = tortoise_config(os.environ.get("DATABASE_URL", "sqlite://escrow.sqlite3"))


async def open_database(database_url: str) -> None:
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)


async def migrate_database(database_url: str) -> None:
    """Apply the committed migrations, then close; concurrent starts on PostgreSQL take turns."""
    config = tortoise_config(database_url)
    try:
        if not database_url.startswith("postgres://"):
            await migrate(config=config)
            return
        await Tortoise.init(config=config)
        connection = Tortoise.get_connection("default")
        await connection.execute_query(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
        try:
            await migrate(config=config)
        finally:
            await connection.execute_query(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
    finally:
        await Tortoise.close_connections()


async def close_database() -> None:
    await Tortoise.close_connections()
