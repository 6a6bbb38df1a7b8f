"""Tortoise configuration, and the one place that opens and migrates the database."""

from __future__ import annotations

import os
from typing import Any

import asyncpg
from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api.migrate import migrate

from app.settings import asyncpg_dsn

MODELS = ["app.db.models"]
MIGRATIONS = "app.db.migrations"
MIGRATION_LOCK = 7_415_001  # pg_advisory_lock key: one migrating process at a time
# While serving, a database that cannot be reached fails a request in seconds instead of
# holding it (asyncpg waits 60 s to connect and forever for a query by default). A URL's own
# `timeout` / `command_timeout` parameters win. Migrations get no command timeout.
CONNECT_TIMEOUT = 5
COMMAND_TIMEOUT = 10.0


async def _keep_session(connection: asyncpg.Connection) -> None:
    """The pool's reset of a released connection, instead of asyncpg's reset query
    (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`), one round trip per checkout
    for nothing: pooled connections set no session state (no SET, LISTEN, cursor or advisory
    lock; the bus listens and the migrations lock on connections of their own). asyncpg still
    rolls back a transaction left open before calling this."""


def tortoise_config(database_url: str, *, serving: bool = False) -> dict[str, Any]:
    connection: str | dict[str, Any] = database_url
    if database_url.startswith("postgres://"):
        connection = expand_db_url(database_url)
        connection["credentials"].setdefault("timeout", CONNECT_TIMEOUT)
        if serving:
            connection["credentials"].setdefault("command_timeout", COMMAND_TIMEOUT)
            connection["credentials"]["reset"] = _keep_session
    return {
        "connections": {"default": connection},
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
    await Tortoise.init(
        config=tortoise_config(database_url, serving=True), _enable_global_fallback=True
    )


async def migrate_database(database_url: str) -> None:
    """Apply the committed migrations, then close; concurrent starts on PostgreSQL take turns
    under an advisory lock held on a connection of its own (a pooled one would drop it)."""
    config = tortoise_config(database_url)
    if not database_url.startswith("postgres://"):
        try:
            await migrate(config=config)
        finally:
            await Tortoise.close_connections()
        return
    lock = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await lock.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        try:
            await migrate(config=config)
        finally:
            await Tortoise.close_connections()
            await lock.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    finally:
        await lock.close()


async def close_database() -> None:
    await Tortoise.close_connections()
