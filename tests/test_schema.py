"""`schema.graphql` is the record of the schema the server serves (schema.graphql)."""

from __future__ import annotations

from pathlib import Path

from app.graphql.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_schema_graphql_is_the_exported_schema() -> None:
    exported = str(schema) + "\n"
    committed = SCHEMA_FILE.read_text(encoding="utf-8")
    assert committed == exported, (
        "schema.graphql is out of date: run `python -m app export-schema` and commit the result"
    )
