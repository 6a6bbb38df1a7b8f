"""Responses encoded by orjson are byte for byte what `json.dumps(data, separators=(",", ":"))`
gave before, and the schema has no Float, whose text the two would write differently."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import httpx
import pytest
from graphql import GraphQLFloat, GraphQLNamedType
from hypothesis import given
from hypothesis import strategies as st

from app.graphql import schema as schema_module
from app.graphql.limits import Limits
from app.graphql.view import encode


def _expected(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


EVERY_ASCII = "".join(chr(code) for code in range(0x80))
SAMPLES: list[object] = [
    {"data": {"a": [1, -2, 0, None, True, False, "x"], "b": {}}, "errors": []},
    {"text": EVERY_ASCII},
    {"text": "émigré ✓ emoji \U0001f600 \u2028 \ufffe \U0010ffff \x7f"},
    {"clé ✓": ["\U0001f600" * 3, "plain", "\x7f\x80\xff"]},
    {"lone surrogate": "ab\ud800cd"},
    {"big": 2**64, "small": -(2**63) - 1},
    {"1": "key order", "0": "kept"},
    [{"batch": 1}, {"batch": 2}],
]


@pytest.mark.parametrize("data", SAMPLES)
def test_encoding_is_json_dumps_byte_for_byte(data: object) -> None:
    assert encode(data) == _expected(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_any_json_value_is_encoded_as_json_dumps_does(data: object) -> None:
    assert encode(data) == _expected(data)


def test_a_non_str_key_is_encoded_as_json_dumps_does() -> None:
    assert encode({1: "a", None: "b", False: "c"}) == _expected({1: "a", None: "b", False: "c"})


class Colour(StrEnum):
    RED = "red"


@dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    "data",
    [Point(1), datetime(2026, 1, 1, tzinfo=UTC)],
    ids=["dataclass", "datetime"],
)
def test_what_json_dumps_refuses_is_refused(data: object) -> None:
    with pytest.raises(TypeError):
        _expected(data)
    with pytest.raises(TypeError):
        encode(data)


def test_subclasses_of_str_and_int_are_encoded_as_json_dumps_does() -> None:
    data = {"colour": Colour.RED, "flag": True}
    assert encode(data) == _expected(data)


def test_the_schema_has_no_float() -> None:
    built = schema_module.build_schema(Limits())._schema
    floats = [
        f"{named.name}.{name}"
        for named in built.type_map.values()
        if not named.name.startswith("__")
        for name, definition in (getattr(named, "fields", None) or {}).items()
        if _named(definition.type) is GraphQLFloat
    ]
    assert floats == []


def _named(type_: object) -> GraphQLNamedType | None:
    while hasattr(type_, "of_type"):
        type_ = type_.of_type
    return type_ if isinstance(type_, GraphQLNamedType) else None


async def test_a_response_is_compact_json_with_ascii_escapes(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json={"query": '{ __type(name: "Query") { name } }'})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == b'{"data":{"__type":{"name":"Query"}}}'
    assert response.headers["content-length"] == str(len(response.content))
