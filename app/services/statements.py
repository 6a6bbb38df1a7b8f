"""The write path's SQL, as text written once and run on the transaction's connection.

Building a statement through Tortoise's query builder cost more CPU than the database spent
running it (a mutation sent about eight), so the unit of work sends text instead: written
here with `$n` placeholders, turned once per dialect into what the driver takes (`?n` on
SQLite), and run through the connection's `execute_query*` methods, which the statement
counts of the tests see. Values go in and come out through the models' own fields
(`to_db_value`, `_init_from_db`), so a column is converted exactly as Tortoise converts it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

Connection = BaseDBAsyncClient
M = TypeVar("M", bound=Model)
Row = dict[str, Any]

_PLACEHOLDER = re.compile(r"\$(\d+)")


@functools.cache
def _for_dialect(sql: str, dialect: str) -> str:
    return sql if dialect == "postgres" else _PLACEHOLDER.sub(r"?\1", sql)


def is_postgres(conn: Connection) -> bool:
    return bool(conn.capabilities.dialect == "postgres")


async def rows(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[Row]:
    """The rows a statement returns (an INSERT's or UPDATE's with RETURNING too)."""
    return await conn.execute_query_dict(_for_dialect(sql, conn.capabilities.dialect), [*params])


def numbered(sql: str, start: int) -> str:
    """`sql` with its placeholders $1... renumbered from `start`."""
    return _PLACEHOLDER.sub(lambda m: f"${int(m.group(1)) + start - 1}", sql)


def placeholders(count: int, start: int = 1) -> str:
    return ", ".join(f"${n}" for n in range(start, start + count))


@dataclass(frozen=True)
class Table(Generic[M]):
    """One model's table: its columns, and its values converted by its fields."""

    model: type[M]

    @property
    def name(self) -> str:
        return str(self.model._meta.db_table)

    @functools.cached_property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.model._meta.fields_db_projection.values())

    def select(self) -> str:
        """The table's columns, for a SELECT list."""
        return ", ".join(self.columns)

    @functools.cached_property
    def defaults(self) -> dict[str, Any]:
        """The fields' defaults, for the fields an INSERT does not give (as a model would)."""
        fields = self.model._meta.fields_map
        return {
            name: fields[name].default
            for name in self.model._meta.fields_db_projection
            if fields[name].default is not None and not callable(fields[name].default)
        }

    def record(self, row: Mapping[str, Any]) -> M:
        """The model instance of a row."""
        return self.model._init_from_db(**row)

    def db_values(self, values: Mapping[str, Any]) -> list[Any]:
        """Field values (by field name) as the database takes them, in the order given."""
        fields = self.model._meta.fields_map
        return [fields[name].to_db_value(value, self.model) for name, value in values.items()]

    def insert(self, names: tuple[str, ...], count: int = 1, returning: str = "id") -> str:
        """An INSERT of `count` rows of these fields."""
        return _insert(self.model, names, count, returning)

    def update(self, names: tuple[str, ...], where: str) -> str:
        """An UPDATE of these fields ($1...) of the rows `where` says (its placeholders after
        them)."""
        return _update(self.model, names, where)

    def insert_rows(
        self, given: Sequence[Mapping[str, Any]], returning: str = "id"
    ) -> tuple[str, list[Any]]:
        """The INSERT of the rows (field values by name, the same fields in each, at least one)
        in one statement, returning `returning` of each; and its values."""
        full = [{**self.defaults, **row} for row in given]
        names = tuple(full[0])
        params = [value for row in full for value in self.db_values(row)]
        return self.insert(names, len(given), returning), params


def _column(model: type[Model], name: str) -> str:
    return str(model._meta.fields_db_projection[name])


@functools.cache
def _insert(model: type[Model], names: tuple[str, ...], count: int, returning: str) -> str:
    width = len(names)
    values = ", ".join(f"({placeholders(width, 1 + i * width)})" for i in range(count))
    columns = ", ".join(_column(model, n) for n in names)
    return f"INSERT INTO {model._meta.db_table} ({columns}) VALUES {values} RETURNING {returning}"


@functools.cache
def _update(model: type[Model], names: tuple[str, ...], where: str) -> str:
    sets = ", ".join(f"{_column(model, n)} = ${i}" for i, n in enumerate(names, 1))
    return f"UPDATE {model._meta.db_table} SET {sets} WHERE {where}"


@dataclass
class Batch:
    """Writes that need none of one another's results, sent together: on PostgreSQL as one
    statement (each a data-modifying WITH query; all run, whatever the others returned),
    elsewhere one by one. Each statement returns rows (`RETURNING`)."""

    parts: list[tuple[str, list[Any]]] = field(default_factory=list)

    def add(self, sql: str, params: Sequence[Any]) -> int:
        """Add a statement; the index of its rows in what `run` returns."""
        self.parts.append((sql, [*params]))
        return len(self.parts) - 1

    async def execute_query(self, query: str, values: list[Any] | None = None) -> None:
        """A batch is an executor too (`app.events.bus.Executor`): what it is asked to run, it
        adds (the bus's notice goes out with the writes it tells of)."""
        self.add(query, values or [])

    async def run(self, conn: Connection) -> list[list[Row]]:
        if len(self.parts) < 2 or not is_postgres(conn):
            return [await rows(conn, sql, params) for sql, params in self.parts]
        queries: list[str] = []
        params: list[Any] = []
        for number, (sql, values) in enumerate(self.parts):
            queries.append(f"b{number} AS ({numbered(sql, len(params) + 1)})")
            params += values
        results = ", ".join(
            f"(SELECT json_agg(b{n}) FROM b{n}) AS b{n}" for n in range(len(self.parts))
        )
        [row] = await rows(conn, f"WITH {', '.join(queries)} SELECT {results}", params)
        return [json.loads(row[f"b{n}"] or "[]") for n in range(len(self.parts))]
