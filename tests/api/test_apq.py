"""Automatic persisted queries (docs/transport.md#automatic-persisted-queries), as Apollo's
persisted-query link speaks them: a hash-only request runs the stored document or is answered
HTTP 200 `PersistedQueryNotFound`; the retry with the text registers it, its hash checked; by
POST and GET, queries and mutations (mutations by POST only); stored in the database, so every
process on it knows the document; bounded; a stored document held to every limit on each run."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.db.models import PersistedQuery
from app.services.runtime import Runtime
from tests.api.people import Parties
from tests.api.test_http_spec import app_client
from tests.services.test_query_counts import counting_statements

POLICY = "{ policy { maxMilestonesPerContract } }"
POLICY_DATA = {"data": {"policy": {"maxMilestonesPerContract": 200}}}
CREATE_TOKEN = 'mutation { createApiToken(input: {name: "apq", scopes: [READ]}) { token } }'


def _hash(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def _extensions(query: str, version: object = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": _hash(query)}}


def _codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def _hash_only(http: httpx.AsyncClient, query: str, **headers: str) -> httpx.Response:
    return await http.post("/graphql", json={"extensions": _extensions(query)}, headers=headers)


async def _with_text(http: httpx.AsyncClient, query: str, **headers: str) -> httpx.Response:
    body = {"query": query, "extensions": _extensions(query)}
    return await http.post("/graphql", json=body, headers=headers)


@pytest.fixture
async def other_process(db: None, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(runtime) as client:
        yield client


@pytest.fixture
async def bounded(db: None, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(runtime, MAX_PERSISTED_QUERIES=2) as client:
        yield client


async def test_an_unknown_hash_is_persisted_query_not_found_with_http_200(
    http: httpx.AsyncClient,
) -> None:
    response = await _hash_only(http, POLICY)

    assert response.status_code == 200
    body = response.json()
    assert body["errors"][0]["message"] == "PersistedQueryNotFound"
    assert _codes(body) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_the_retry_with_the_text_registers_it_for_post_and_get(
    http: httpx.AsyncClient,
) -> None:
    # given the link's first try, not found, and its retry with the text
    assert _codes((await _hash_only(http, POLICY)).json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    retry = await _with_text(http, POLICY)
    assert retry.json() == POLICY_DATA
    # then the hash alone runs it, by POST and by GET
    assert (await _hash_only(http, POLICY)).json() == POLICY_DATA
    by_get = await http.get(
        "/graphql",
        params={"extensions": json.dumps(_extensions(POLICY))},
        headers={"accept": "*/*"},
    )
    assert by_get.status_code == 200
    assert by_get.json() == POLICY_DATA


async def test_a_document_registered_on_one_process_runs_on_another(
    http: httpx.AsyncClient, other_process: httpx.AsyncClient
) -> None:
    await _with_text(http, POLICY)

    assert (await _hash_only(other_process, POLICY)).json() == POLICY_DATA


async def test_a_persisted_mutation_runs_by_post_only(
    http: httpx.AsyncClient, parties: Parties
) -> None:
    auth = {"authorization": f"Bearer {parties.client.token}"}
    first = await _with_text(http, CREATE_TOKEN, **auth)
    assert first.json()["data"]["createApiToken"]["token"]

    again = await _hash_only(http, CREATE_TOKEN, **auth)
    assert again.json()["data"]["createApiToken"]["token"]
    by_get = await http.get(
        "/graphql", params={"extensions": json.dumps(_extensions(CREATE_TOKEN))}, headers=auth
    )
    assert by_get.status_code == 405
    assert by_get.headers["allow"] == "POST"


async def test_a_text_whose_hash_is_another_is_a_bad_request_and_not_stored(
    http: httpx.AsyncClient,
) -> None:
    body = {"query": "{ __typename }", "extensions": _extensions(POLICY)}

    response = await http.post("/graphql", json=body)

    assert response.status_code == 400
    assert _codes(response.json()) == ["BAD_REQUEST"]
    assert _codes((await _hash_only(http, POLICY)).json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert await PersistedQuery.all().count() == 0


@pytest.mark.parametrize(
    "persisted",
    [
        pytest.param({"version": 2, "sha256Hash": _hash(POLICY)}, id="version 2"),
        pytest.param({"version": True, "sha256Hash": _hash(POLICY)}, id="version true"),
        pytest.param({"version": 1, "sha256Hash": "abc"}, id="short hash"),
        pytest.param({"version": 1, "sha256Hash": _hash(POLICY).upper()}, id="upper case"),
        pytest.param({"version": 1}, id="no hash"),
        pytest.param("yes", id="not an object"),
    ],
)
async def test_a_malformed_persisted_query_is_a_bad_request(
    http: httpx.AsyncClient, persisted: object
) -> None:
    response = await http.post("/graphql", json={"extensions": {"persistedQuery": persisted}})

    assert response.status_code == 400
    assert _codes(response.json()) == ["BAD_REQUEST"]


async def test_a_document_that_does_not_parse_is_not_stored(http: httpx.AsyncClient) -> None:
    broken = "{ policy {"

    response = await _with_text(http, broken)

    assert _codes(response.json()) == ["BAD_REQUEST"]
    assert await PersistedQuery.all().count() == 0


async def test_a_document_over_100_kb_runs_but_is_not_stored(http: httpx.AsyncClient) -> None:
    large = "{ __typename } #" + "x" * 100_000

    response = await _with_text(http, large)

    assert response.json() == {"data": {"__typename": "Query"}}
    assert _codes((await _hash_only(http, large)).json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert await PersistedQuery.all().count() == 0


async def test_a_stored_document_is_held_to_the_limits_on_each_run(
    http: httpx.AsyncClient,
) -> None:
    # given a document over the alias limit, which parses, so is registered
    too_many = "{ " + " ".join(f"a{n}: __typename" for n in range(51)) + " }"
    first = await _with_text(http, too_many)
    assert _codes(first.json()) == ["BAD_REQUEST"]
    # when it is run by its hash, then it is refused again
    again = await _hash_only(http, too_many)
    assert _codes(again.json()) == ["BAD_REQUEST"]
    assert again.json()["data"] is None


async def test_the_store_keeps_the_most_recent_max_persisted_queries(
    bounded: httpx.AsyncClient, other_process: httpx.AsyncClient
) -> None:
    documents = [f"{{ a{n}: __typename }}" for n in range(3)]
    for document in documents:
        await _with_text(bounded, document)

    assert await PersistedQuery.all().count() == 2
    # the oldest is gone for a process that had not seen it; the others are known
    assert _codes((await _hash_only(other_process, documents[0])).json()) == [
        "PERSISTED_QUERY_NOT_FOUND"
    ]
    for document in documents[1:]:
        assert _codes((await _hash_only(other_process, document)).json()) == []


async def test_a_known_hash_costs_this_process_no_statement_and_another_one_read(
    http: httpx.AsyncClient, other_process: httpx.AsyncClient
) -> None:
    # given a document registered (the insert, and the newest id: none to forget below the bound)
    with counting_statements() as registering:
        await _with_text(http, POLICY)
    assert len([s for s in registering if "persisted_queries" in s]) == 2

    # when it is run by its hash here, then on a process that has not seen it, twice
    with counting_statements() as here:
        await _hash_only(http, POLICY)
    with counting_statements() as there:
        await _hash_only(other_process, POLICY)
        await _hash_only(other_process, POLICY)

    # then (the policy query itself reads nothing)
    assert [s for s in here if "persisted_queries" in s] == []
    assert len([s for s in there if "persisted_queries" in s]) == 1
