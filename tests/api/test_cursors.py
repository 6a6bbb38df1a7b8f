"""Cursors (issue 7, point 9): a malformed cursor, one out of its column's range, or one of
another connection is a top-level BAD_REQUEST "invalid cursor", never INTERNAL and never a
silent first page; the cursors the server hands out keep working."""

from __future__ import annotations

import base64

import pytest

from tests.api.client import Api
from tests.api.operations import release_milestone
from tests.api.people import Parties
from tests.api.scenarios import funded, milestone_ids

CONTRACTS = """
query($after: String) {
  contracts(first: 1, after: $after) { pageInfo { endCursor } edges { node { title } } }
}
"""

EVENTS = """
query($id: ID!, $after: String) {
  contract(id: $id) {
    events(first: 1, after: $after) { pageInfo { endCursor } edges { node { sequence } } }
  }
}
"""

ENTRIES = """
query($id: ID!, $after: String) {
  contract(id: $id) {
    escrow {
      entries(first: 1, after: $after) { pageInfo { endCursor } edges { node { kind } } }
    }
  }
}
"""


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


MALFORMED = {
    "garbage": "garbage",
    "empty": "",
    "not base64": "!!!!",
    "sql": "' OR 1=1 --",
    "base64 of nothing useful": _b64("hello"),
    "not utf-8": base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    "very long": "A" * 10_000,
}

TIME = "2026-01-01T00:00:00+00:00"
OUT_OF_RANGE_CONTRACTS = {
    "id past 2^31": _b64(f"contracts|{TIME}|{2**31}"),
    "id past 2^63": _b64(f"contracts|{TIME}|{2**63}"),
    "negative id": _b64(f"contracts|{TIME}|-1"),
    "time without an offset": _b64("contracts|2026-01-01T00:00:00|1"),
    "not a time": _b64("contracts|yesterday|1"),
    "old format": _b64(f"{TIME}|1"),
}
OUT_OF_RANGE_EVENTS = {
    "sequence past 2^31": _b64(f"events|{2**31}"),
    "sequence past 2^63": _b64(f"events|{2**63}"),
    "digits of another script": _b64("events|١٢"),
    "old format": _b64("1"),
}
OUT_OF_RANGE_ENTRIES = {
    "id past 2^63": _b64(f"entries|{2**63}"),
    "negative id": _b64("entries|-5"),
}


def _invalid_cursor(result: object) -> None:
    errors = result.errors  # type: ignore[attr-defined]
    assert [e["extensions"]["code"] for e in errors] == ["BAD_REQUEST"], errors
    assert errors[0]["message"] == "invalid cursor"


@pytest.mark.parametrize(
    "cursor",
    [*MALFORMED.values(), *OUT_OF_RANGE_CONTRACTS.values()],
    ids=[*MALFORMED, *OUT_OF_RANGE_CONTRACTS],
)
async def test_a_bad_contracts_cursor_is_an_invalid_cursor(
    api: Api, parties: Parties, cursor: str
) -> None:
    await funded(api, parties, "100.00")

    result = await api.raw(CONTRACTS, {"after": cursor}, parties.client.token)

    _invalid_cursor(result)
    assert result.data is None or result.data.get("contracts") is None


@pytest.mark.parametrize(
    "cursor",
    [*MALFORMED.values(), *OUT_OF_RANGE_EVENTS.values()],
    ids=[*MALFORMED, *OUT_OF_RANGE_EVENTS],
)
async def test_a_bad_events_cursor_is_an_invalid_cursor(
    api: Api, parties: Parties, cursor: str
) -> None:
    contract = await funded(api, parties, "100.00")

    result = await api.raw(EVENTS, {"id": contract["id"], "after": cursor}, parties.client.token)

    _invalid_cursor(result)


@pytest.mark.parametrize(
    "cursor",
    [*MALFORMED.values(), *OUT_OF_RANGE_ENTRIES.values()],
    ids=[*MALFORMED, *OUT_OF_RANGE_ENTRIES],
)
async def test_a_bad_entries_cursor_is_an_invalid_cursor(
    api: Api, parties: Parties, cursor: str
) -> None:
    contract = await funded(api, parties, "100.00")

    result = await api.raw(ENTRIES, {"id": contract["id"], "after": cursor}, parties.client.token)

    _invalid_cursor(result)


async def test_a_cursor_of_another_connection_is_an_invalid_cursor(
    api: Api, parties: Parties
) -> None:
    contract = await funded(api, parties, "100.00", "50.00")
    token = parties.client.token
    variables = {"id": contract["id"]}
    contracts = (await api.ok(CONTRACTS, {}, token))["contracts"]["pageInfo"]["endCursor"]
    events = (await api.ok(EVENTS, variables, token))["contract"]["events"]["pageInfo"]
    entries = (await api.ok(ENTRIES, variables, token))["contract"]["escrow"]["entries"]

    for query, cursor in [
        (CONTRACTS, events["endCursor"]),
        (CONTRACTS, entries["pageInfo"]["endCursor"]),
        (EVENTS, contracts),
        (EVENTS, entries["pageInfo"]["endCursor"]),
        (ENTRIES, events["endCursor"]),
        (ENTRIES, contracts),
    ]:
        _invalid_cursor(await api.raw(query, {**variables, "after": cursor}, token))


async def test_the_cursors_handed_out_page_on(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00", "50.00")
    await release_milestone(api, parties.client.token, milestone_ids(contract)[0])
    await funded(api, parties, "10.00")
    token = parties.client.token
    variables = {"id": contract["id"]}

    contracts = []
    events = []
    entries = []
    after: str | None = None
    for _ in range(2):
        page = (await api.ok(CONTRACTS, {"after": after}, token))["contracts"]
        contracts += [e["node"]["title"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
    after = None
    for _ in range(3):
        page = (await api.ok(EVENTS, {**variables, "after": after}, token))["contract"]["events"]
        events += [e["node"]["sequence"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
    after = None
    for _ in range(3):
        page = (await api.ok(ENTRIES, {**variables, "after": after}, token))["contract"]
        entries += [e["node"]["kind"] for e in page["escrow"]["entries"]["edges"]]
        after = page["escrow"]["entries"]["pageInfo"]["endCursor"]

    assert contracts == ["Website", "Website"]
    assert events == [1, 2, 3]
    assert len(entries) == 3


async def test_a_bad_before_cursor_is_an_invalid_cursor_on_every_connection(
    api: Api, parties: Parties
) -> None:
    contract = await funded(api, parties, "100.00")
    token = parties.client.token
    before = "query($id: ID!, $before: String) { contract(id: $id) { %s } }"

    for selection in (
        "events(last: 1, before: $before) { totalCount }",
        "escrow { entries(last: 1, before: $before) { totalCount } }",
    ):
        for cursor in (MALFORMED["garbage"], OUT_OF_RANGE_EVENTS["sequence past 2^63"]):
            query = before % selection
            _invalid_cursor(await api.raw(query, {"id": contract["id"], "before": cursor}, token))
    for cursor in (MALFORMED["sql"], OUT_OF_RANGE_CONTRACTS["time without an offset"]):
        result = await api.raw(
            "query($b: String) { contracts(before: $b) { totalCount } }", {"b": cursor}, token
        )
        _invalid_cursor(result)
